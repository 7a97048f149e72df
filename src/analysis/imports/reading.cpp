#include "analysis/imports/reading.hpp"

#include <charconv>
#include <cmath>
#include <unordered_map>

#include "kit/csv.hpp"

namespace spectra::imports {
namespace {

constexpr std::size_t max_metric = 200, max_unit = 50, max_site = 100;

std::string_view trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// A number as instruments write it: an optional sign, digits, a point (or, with decimal_comma, a
// comma) and an exponent; nothing else in the cell but padding.
std::optional<std::string> number(std::string_view cell, bool decimal_comma, double& out) {
  std::string text(trimmed(cell));
  if (text.empty()) return "is empty";
  const bool comma = text.find(',') != std::string::npos, point = text.find('.') != std::string::npos;
  if (comma && !decimal_comma) return "is not a number: '" + text + "' has a decimal comma (the profile says decimal_comma: false)";
  if (comma && point) return "is not a number: '" + text + "' has both a comma and a point";
  if (comma) text[text.find(',')] = '.';
  std::string_view digits = text;
  if (digits.starts_with('+')) digits.remove_prefix(1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  if (ec == std::errc::result_out_of_range) return "is out of range: '" + text + "'";
  if (ec != std::errc() || end != digits.data() + digits.size()) return "is not a number: '" + text + "'";
  if (!std::isfinite(out)) return "is not a finite number: '" + text + "'";
  return std::nullopt;
}

// A name (metric, unit, site) is one line of text: a quoted cell may hold line breaks and tabs.
bool one_line(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

std::optional<std::string> integer(std::string_view cell, int& out) {
  std::string_view text = trimmed(cell);
  if (text.starts_with('+')) text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return "is not an integer: '" + std::string(trimmed(cell)) + "'";
  return std::nullopt;
}

// The first byte that is no text (a control character other than tab, CR, LF and form feed).
std::size_t first_control(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n' && c != '\f') || c == 0x7f) return i;
  }
  return std::string_view::npos;
}

std::size_t line_of(std::string_view s, std::size_t pos) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < pos; ++i)
    if (s[i] == '\n') ++line;
  return line;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> profile_problems(const Profile& p) {
  std::vector<std::pair<std::string, std::string>> out;
  const Columns& c = p.columns;
  if (!c.value) out.emplace_back("columns.value", "is required: the header name of the column that holds the values");
  if (c.metric && p.metric) out.emplace_back("metric", "give a metric column (columns.metric) or one metric per file, not both");
  if (!c.metric && !p.metric)
    out.emplace_back("columns.metric", "is required unless the profile names one metric per file (metric)");
  if (c.x_mm.has_value() != c.y_mm.has_value())
    out.emplace_back(c.x_mm ? "columns.y_mm" : "columns.x_mm", "x_mm and y_mm are mapped together or not at all");
  if (c.die_x.has_value() != c.die_y.has_value())
    out.emplace_back(c.die_x ? "columns.die_y" : "columns.die_x", "die_x and die_y are mapped together or not at all");
  std::unordered_map<std::string_view, std::string_view> used;
  for (const auto& [name, member] : column_members) {
    const auto& header = c.*member;
    if (!header) continue;
    if (trimmed(*header).empty()) {
      out.emplace_back("columns." + std::string(name), "must not be blank");
      continue;
    }
    if (auto [it, fresh] = used.emplace(*header, name); !fresh)
      out.emplace_back("columns." + std::string(name), "names the same column as columns." + std::string(it->second));
  }
  if (!(p.unit_scale > 0) || !std::isfinite(p.unit_scale)) out.emplace_back("unit_scale", "must be a positive finite number");
  if (p.decimal_comma && p.format == "csv")
    out.emplace_back("decimal_comma", "is for TSV files: in a CSV file the comma separates cells");
  return out;
}

Reading read_file(std::string_view bytes, const Profile& p, std::size_t max_rows, std::size_t max_problems) {
  Reading out;
  auto problem = [&](std::size_t line, std::string column, std::string message) {
    if (out.problems.size() < max_problems) out.problems.push_back({line, std::move(column), std::move(message)});
    return out.problems.size() >= max_problems;
  };
  if (bytes.empty()) {
    problem(0, "", "is empty");
    return out;
  }
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);  // a byte-order mark is not content
  if (const auto bad = first_control(bytes); bad != std::string_view::npos) {
    problem(line_of(bytes, bad), "", "is not text: it holds control characters (a binary file?)");
    return out;
  }
  // The preamble is skipped line by line, unread: it need not be CSV.
  std::size_t skipped = 0, at = 0;
  for (; skipped < static_cast<std::size_t>(p.skip_lines); ++skipped) {
    const auto nl = bytes.find('\n', at);
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  if (skipped < static_cast<std::size_t>(p.skip_lines) || at >= bytes.size()) {
    problem(0, "", "has no header: the profile skips " + std::to_string(p.skip_lines) + " lines and the file ends there");
    return out;
  }
  const kit::csv::Table table =
      kit::csv::read(bytes.substr(at), max_rows, max_problems, {p.format == "tsv" ? '\t' : ','});
  for (const auto& q : table.problems)
    if (problem(q.line ? q.line + skipped : 0, q.column, q.message)) return out;
  if (!out.problems.empty()) return out;
  const std::size_t header_line = skipped + 1;

  // Where each mapped column is.
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < table.header.size(); ++i) index.emplace(table.header[i], i);
  struct Where {
    std::optional<std::size_t> metric, value, unit, x, y, dx, dy, site;
  } where;
  auto find = [&](const std::optional<std::string>& name, const char* field, std::optional<std::size_t>& slot) {
    if (!name) return;
    if (auto it = index.find(*name); it != index.end())
      slot = it->second;
    else
      problem(header_line, *name, "is not in the header (columns." + std::string(field) + ")");
  };
  const Columns& c = p.columns;
  find(c.metric, "metric", where.metric);
  find(c.value, "value", where.value);
  find(c.unit, "unit", where.unit);
  find(c.x_mm, "x_mm", where.x);
  find(c.y_mm, "y_mm", where.y);
  find(c.die_x, "die_x", where.dx);
  find(c.die_y, "die_y", where.dy);
  find(c.site, "site", where.site);
  if (!out.problems.empty()) return out;
  if (table.rows.empty()) {
    problem(0, "", "has a header and no data rows");
    return out;
  }

  out.results.reserve(table.rows.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& cells = table.rows[r];
    const std::size_t line = table.lines[r] + skipped;
    Imported row;
    row.line = line;
    bool ok = true;
    auto bad = [&](std::size_t column, std::string message) {
      ok = false;
      return problem(line, table.header[column], std::move(message));
    };
    if (where.metric) {
      const std::string_view m = trimmed(cells[*where.metric]);
      if (m.empty() && bad(*where.metric, "is empty: the metric is required")) return out;
      if (m.size() > max_metric && bad(*where.metric, "is longer than 200 characters")) return out;
      if (!one_line(m) && bad(*where.metric, "holds a line break or a tab")) return out;
      row.metric = std::string(m);
    } else {
      row.metric = *p.metric;
    }
    if (auto why = number(cells[*where.value], p.decimal_comma, row.value)) {
      if (bad(*where.value, *why)) return out;
    } else {
      row.value *= p.unit_scale;
      if (!std::isfinite(row.value) && bad(*where.value, "is not finite once scaled by unit_scale")) return out;
    }
    row.unit = p.unit;
    if (where.unit) {
      const std::string_view u = trimmed(cells[*where.unit]);
      if (u.size() > max_unit && bad(*where.unit, "is longer than 50 characters")) return out;
      if (!one_line(u) && bad(*where.unit, "holds a line break or a tab")) return out;
      if (!u.empty()) row.unit = std::string(u);
    }
    auto pair = [&](std::optional<std::size_t> a, std::optional<std::size_t> b, auto read) {
      if (!a) return false;
      const bool has_a = !trimmed(cells[*a]).empty(), has_b = !trimmed(cells[*b]).empty();
      if (has_a != has_b) return bad(has_a ? *b : *a, "is empty while " + table.header[has_a ? *a : *b] + " is not");
      if (!has_a) return false;
      return read(*a, *b);
    };
    const bool stop_xy = pair(where.x, where.y, [&](std::size_t a, std::size_t b) {
      double x = 0, y = 0;
      if (auto why = number(cells[a], p.decimal_comma, x); why && bad(a, *why)) return true;
      if (auto why = number(cells[b], p.decimal_comma, y); why && bad(b, *why)) return true;
      row.x_mm = x;
      row.y_mm = y;
      return false;
    });
    if (stop_xy) return out;
    const bool stop_die = pair(where.dx, where.dy, [&](std::size_t a, std::size_t b) {
      int x = 0, y = 0;
      if (auto why = integer(cells[a], x); why && bad(a, *why)) return true;
      if (auto why = integer(cells[b], y); why && bad(b, *why)) return true;
      row.die_x = x;
      row.die_y = y;
      return false;
    });
    if (stop_die) return out;
    if (where.site) {
      const std::string_view s = trimmed(cells[*where.site]);
      if (s.size() > max_site && bad(*where.site, "is longer than 100 characters")) return out;
      if (!one_line(s) && bad(*where.site, "holds a line break or a tab")) return out;
      if (!s.empty()) row.site = std::string(s);
    }
    if (ok) out.results.push_back(std::move(row));
  }
  if (!out.problems.empty()) out.results.clear();
  return out;
}

}  // namespace spectra::imports
