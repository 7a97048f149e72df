#pragma once
// A row of typed columns written as a JSON object by the API server, the way PostgreSQL's to_jsonb
// writes each type: the database returns plain columns (its cheapest work) and never builds JSON for
// an answer. Each column is a member named by its alias; columns whose name begins with "_" are a
// statement's helpers (an audited row's id, a list's sort key) and are left out. Types, from the
// result's description: bool, the integers, numeric and floats (a number, or a string for NaN and
// the infinities), json and jsonb (passed through as sent), timestamptz and timestamp (ISO 8601 with
// "T", the offset as ±hh:mm), one-dimensional arrays of those, and anything else as a string of its
// text form. The session must run with TimeZone=UTC and DateStyle=ISO (the pool's connections do).
#include <string>
#include <string_view>
#include <vector>

#include "platform/db/result.hpp"

namespace spectra::db {

class RowJson {
 public:
  // Reads the result's description once; then writes any of its rows.
  explicit RowJson(const Result& r);
  void append(std::string& out, int row) const;
  std::string operator()(int row) const;

 private:
  struct Column {
    int index;
    unsigned type;
    std::string key;  // the member name, quoted, with its colon
  };
  const Result& r_;
  std::vector<Column> columns_;
};

// One row's object (a single-row answer).
std::string row_json(const Result& r, int row = 0);

// A JSON string of `s` (quoted and escaped), appended to out.
void append_json_string(std::string& out, std::string_view s);

}  // namespace spectra::db
