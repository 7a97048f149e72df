#pragma once
// How an instrument's file becomes results, as plain functions unit-tested without a socket: an import
// profile (which header names hold the metric, the value, the unit and the positions; lines to skip
// before the header; a factor for the values; decimal commas or not) and the strict reading of a CSV or
// TSV file through it (kit/csv), every problem naming the file's line and the header's column.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spectra::imports {

// Header names of the file's columns; `value` is required, the others optional.
struct Columns {
  std::optional<std::string> metric, value, unit, x_mm, y_mm, die_x, die_y, site;
};
// Each member of Columns with its name in a request and in the stored profile, in order.
inline constexpr std::pair<std::string_view, std::optional<std::string> Columns::*> column_members[] = {
    {"metric", &Columns::metric}, {"value", &Columns::value}, {"unit", &Columns::unit},
    {"x_mm", &Columns::x_mm},     {"y_mm", &Columns::y_mm},   {"die_x", &Columns::die_x},
    {"die_y", &Columns::die_y},   {"site", &Columns::site}};

struct Profile {
  std::string format = "csv";  // csv or tsv
  int skip_lines = 0;          // lines before the header (an instrument's preamble), not read at all
  Columns columns;
  std::optional<std::string> metric;  // one metric per file, when no column names it
  std::optional<std::string> unit;    // the unit when no column gives one (or the cell is empty)
  double unit_scale = 1;              // each value is multiplied by it
  bool decimal_comma = false;         // numbers written 1,5 rather than 1.5
};

// What is wrong with a profile, each (field, message) naming the request's field (columns.value,
// metric, ...): a mapping that names no value column, both or neither of a metric column and a fixed
// metric, one of x_mm/y_mm (or die_x/die_y) without the other, a header name used twice, a scale that
// is not a positive finite number. A decimal comma in a CSV profile is refused: there the comma
// separates cells.
std::vector<std::pair<std::string, std::string>> profile_problems(const Profile& p);

// One result read from the file, with the line it came from.
struct Imported {
  std::size_t line = 0;
  std::string metric;
  double value = 0;
  std::optional<std::string> unit;
  std::optional<double> x_mm, y_mm;
  std::optional<int> die_x, die_y;
  std::optional<std::string> site;
};
// A problem of the file: its line (1 = the file's first line; 0 = the whole file), the header name of
// its column ("" for the whole line) and what is wrong.
struct LineProblem {
  std::size_t line = 0;
  std::string column;
  std::string message;
};
struct Reading {
  std::vector<Imported> results;     // in the file's order
  std::vector<LineProblem> problems;  // the results count only when this is empty
};

// Reads `bytes` through the profile: at most max_rows data rows, at most max_problems problems (then
// stops). Refused: a file that is empty or not UTF-8 text (NUL and other control characters than tab,
// CR, LF), fewer lines than skip_lines + a header, a header without one of the profile's columns, no
// data row, the CSV reader's problems (kit/csv.hpp: a quote never closed, a row with another number of
// cells...), an empty or non-numeric value (a decimal comma unless the profile says so; a number
// written with both a comma and a point), a value that is not finite after scaling, a metric or unit
// too long, one of a pair of positions without the other, a die position that is not an integer.
// Leading and trailing spaces around numbers are ignored (instruments pad their columns).
Reading read_file(std::string_view bytes, const Profile& p, std::size_t max_rows, std::size_t max_problems = 100);

}  // namespace spectra::imports
