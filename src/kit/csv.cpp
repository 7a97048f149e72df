#include "kit/csv.hpp"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "platform/utf8.hpp"

namespace spectra::kit::csv {
namespace {

constexpr std::string_view formula_starts = "=+-@\t\r";
constexpr std::string_view bom = "\xEF\xBB\xBF";
constexpr auto npos = std::string_view::npos;

// Counting the apostrophes already in front lets read() strip exactly the one append_cell added,
// whatever the value began with.
bool looks_like_formula(std::string_view value) {
  const auto first = value.find_first_not_of('\'');
  return first != npos && formula_starts.find(value[first]) != npos;
}

std::string without_neutraliser(std::string cell) {
  if (!cell.empty() && cell.front() == '\'' && looks_like_formula(cell)) cell.erase(0, 1);
  return cell;
}

// One pass over the text, record by record; every problem goes to the table, none is thrown.
class Reader {
 public:
  Reader(std::string_view text, std::size_t max_problems, Table& table, char delimiter)
      : text_(text), bad_byte_(utf8::first_invalid(text)), max_problems_(std::max<std::size_t>(max_problems, 1)),
        table_(table), delimiter_(delimiter) {}

  bool done() const { return pos_ >= text_.size() || full(); }
  bool full() const { return table_.problems.size() >= max_problems_; }
  bool only_line_end_left() const {
    const auto rest = text_.substr(pos_);
    return rest == "\n" || rest == "\r\n";
  }

  void add(std::size_t row, std::string column, std::string message) {
    if (!full()) table_.problems.push_back({row, std::move(column), std::move(message), row_line_});
  }
  // A problem of the whole file (no line of its own).
  void add_file(std::string message) {
    if (!full()) table_.problems.push_back({0, "", std::move(message), 0});
  }
  // The line the record about to be read starts on (counted incrementally: one pass over the text).
  std::size_t line() {
    for (; counted_ < pos_; ++counted_)
      if (text_[counted_] == '\n') ++line_;
    return line_;
  }

  void read_record(std::size_t row, std::vector<std::string>& cells) {
    const auto start = pos_;
    row_line_ = line();
    cells.clear();
    cells.reserve(table_.header.size());
    cells.push_back(read_cell(row, 0));
    while (pos_ < text_.size() && text_[pos_] == delimiter_) {
      ++pos_;
      cells.push_back(read_cell(row, cells.size()));
    }
    skip_line_end();
    if (bad_byte_ >= start && bad_byte_ < pos_) add(row, "", "is not valid UTF-8");
  }

 private:
  std::string column_name(std::size_t column) const {
    return column < table_.header.size() ? table_.header[column] : std::string();
  }

  std::string read_cell(std::size_t row, std::size_t column) {
    if (pos_ < text_.size() && text_[pos_] == '"') return without_neutraliser(read_quoted(row, column));
    const auto start = pos_;
    skip_unquoted(row, column);
    return without_neutraliser(std::string(text_.substr(start, pos_ - start)));
  }

  std::string read_quoted(std::size_t row, std::size_t column) {
    std::string cell;
    for (++pos_;;) {
      const auto quote = text_.find('"', pos_);
      if (quote == npos) {
        cell += text_.substr(pos_);
        pos_ = text_.size();
        add(row, column_name(column), "has a quote that is never closed");
        return cell;
      }
      cell += text_.substr(pos_, quote - pos_);
      pos_ = quote + 1;
      if (pos_ >= text_.size() || text_[pos_] != '"') break;
      cell += '"';
      ++pos_;
    }
    if (!at_cell_end()) {
      add(row, column_name(column), "has text after its closing quote");
      const auto start = pos_;
      skip_unquoted(row, column);
      cell += text_.substr(start, pos_ - start);
    }
    return cell;
  }

  // Moves to the comma or line end that closes an unquoted cell, reporting what RFC 4180 forbids there.
  void skip_unquoted(std::size_t row, std::size_t column) {
    bool quote_reported = false, cr_reported = false;
    for (;;) {
      pos_ = std::min(text_.find_first_of(stops_, pos_), text_.size());
      if (at_cell_end()) return;
      if (text_[pos_] == '"' && !std::exchange(quote_reported, true))
        add(row, column_name(column), "has a quote inside an unquoted cell");
      if (text_[pos_] == '\r' && !std::exchange(cr_reported, true))
        add(row, column_name(column), "has a carriage return outside quotes");
      ++pos_;
    }
  }

  // read_cell stops only before a comma, a line end or the end of the text.
  void skip_line_end() {
    if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
    if (pos_ < text_.size()) ++pos_;
  }

  bool at_cell_end() const {
    if (pos_ >= text_.size()) return true;
    const auto rest = text_.substr(pos_);
    return rest[0] == delimiter_ || rest[0] == '\n' || rest.starts_with("\r\n");
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t bad_byte_;
  std::size_t max_problems_;
  Table& table_;
  char delimiter_;
  const char stops_[5] = {delimiter_, '\n', '\r', '"', '\0'};
  std::size_t counted_ = 0, line_ = 1, row_line_ = 0;
};

void check_header(Reader& reader, const std::vector<std::string>& header) {
  std::unordered_map<std::string_view, int> seen;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i].empty())
      reader.add(0, "", "column " + std::to_string(i + 1) + " has an empty header name");
    else if (++seen[header[i]] == 2)
      reader.add(0, header[i], "appears more than once in the header");
  }
}

void read_rows(Reader& reader, Table& table, std::size_t max_rows) {
  const auto columns = table.header.size();
  std::vector<std::string> cells;
  // An editor's trailing newline is not a row, unless an empty line is exactly a one-column row.
  for (std::size_t row = 1; !reader.done() && !(columns > 1 && reader.only_line_end_left()); ++row) {
    if (row > max_rows) {
      reader.add_file("has more than " + std::to_string(max_rows) + " rows");
      return;
    }
    const auto line = reader.line();
    reader.read_record(row, cells);
    if (cells.size() == columns) {
      table.rows.push_back(std::move(cells));
      table.lines.push_back(line);
    }
    else
      reader.add(row, "", "has " + std::to_string(cells.size()) + " cells, the header has " + std::to_string(columns));
  }
}

}  // namespace

void append_cell(std::string& out, std::string_view value) {
  const bool quoted = value.find_first_of(",\"\r\n") != npos;
  if (quoted) out += '"';
  if (looks_like_formula(value)) out += '\'';
  if (!quoted) {
    out += value;
    return;
  }
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_row(std::string& out, std::span<const std::string_view> cells) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out += ',';
    append_cell(out, cells[i]);
  }
  out += "\r\n";
}

Table read(std::string_view text, std::size_t max_rows, std::size_t max_problems, Dialect dialect) {
  Table table;
  if (text.starts_with(bom)) text.remove_prefix(bom.size());
  Reader reader(text, max_problems, table, dialect.delimiter);
  if (text.empty()) {
    reader.add(0, "", "is empty");
    return table;
  }
  std::vector<std::string> header;
  reader.read_record(0, header);
  if (header.size() == 1 && header[0].empty()) {
    reader.add(0, "", "has no header: the first line is empty");
    return table;
  }
  check_header(reader, header);
  table.header = std::move(header);
  read_rows(reader, table, max_rows);
  return table;
}

}  // namespace spectra::kit::csv
