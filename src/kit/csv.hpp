#pragma once
// CSV as RFC 4180 says (comma, double quotes, CRLF), for exports a spreadsheet opens safely and imports
// that refuse what they cannot read exactly. Pure functions over strings.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spectra::kit::csv {

// Appends one cell: quoted when it holds a comma, a double quote, CR or LF (quotes doubled), and
// neutralised against formula injection: a value whose first character is = + - @ TAB or CR gets a
// leading apostrophe (OWASP "CSV injection"), and so does a value that starts with apostrophes
// followed by one of those (so that read() can undo exactly one apostrophe). An empty value is an
// empty cell.
void append_cell(std::string& out, std::string_view value);
// Appends cells separated by commas and ends the row with CRLF.
void append_row(std::string& out, std::span<const std::string_view> cells);

struct Problem {
  std::size_t row;      // 1 = the first data row after the header; 0 = the header or the file itself
  std::string column;   // the header name of the column, "" when the problem is the whole row/file
  std::string message;  // "is not valid UTF-8", "has 5 cells, the header has 7", ...
  std::size_t line = 0;  // the line of the text where the row starts (1 = the first; 0: the file itself)
};
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // every row has header.size() cells
  std::vector<std::size_t> lines;               // the line where each row starts (a quoted cell may span lines)
  std::vector<Problem> problems;                // empty when the file read cleanly
};
// The separator between cells: a comma (RFC 4180), or a tab for the TSV files instruments write.
struct Dialect {
  char delimiter = ',';
};
// Reads a whole CSV text; a caller imports nothing unless `problems` is empty. Accepts CRLF or LF line
// ends, an optional UTF-8 byte-order mark, quoted cells (with "" for a quote, and CR/LF inside quotes),
// a missing final line end, and ignores one empty last line when the header has more than one column
// (with one column an empty line is a row holding an empty value, as append_row writes it).
// Undoes append_cell's neutralisation: a cell starting with apostrophes followed by = + - @ TAB CR
// loses one apostrophe. Problems (all of them, up to max_problems (at least one), then stop): not
// valid UTF-8 (naming the row), an empty file or no header, an empty or duplicate header name (row 0,
// that column), a row with a different number of cells than the header (naming the row), an
// unterminated quote, a quote in the middle of an unquoted cell, text after a closing quote, a CR that
// does not end a line, more than max_rows data rows (row 0, "has more than N rows").
// Blank lines in the middle of the file are rows with a wrong cell count unless the header has one column.
Table read(std::string_view text, std::size_t max_rows, std::size_t max_problems = 100, Dialect dialect = {});

}  // namespace spectra::kit::csv
