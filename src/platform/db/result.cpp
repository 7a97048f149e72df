#include "platform/db/result.hpp"

#include <map>
#include <mutex>

#include <libpq-fe.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "platform/error.hpp"

namespace spectra::db {

namespace {
struct Registry {
  std::mutex mutex;
  std::map<std::string, int, std::less<>> uses;
  std::map<std::string, std::string, std::less<>> sql;
};
Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace

Query::Query(std::string n, std::string s) : name(std::move(n)), sql(std::move(s)) {
  // PostgreSQL keeps the first 63 bytes of a prepared statement's name: longer ones could collide.
  if (name.empty() || name.size() > 63) throw std::logic_error("statement name must be 1 to 63 bytes: " + name);
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  ++r.uses[name];
  r.sql.emplace(name, sql);
}

std::vector<std::pair<std::string, std::string>> registered_queries() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  return {r.sql.begin(), r.sql.end()};
}

namespace {
struct Expected {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::vector<std::string>>> columns;
};
Expected& expected() {
  static Expected e;
  return e;
}
}  // namespace

void expect_columns(const Query& q, std::vector<std::string> names) {
  auto& e = expected();
  std::lock_guard lock(e.mutex);
  e.columns.emplace_back(q.name, std::move(names));
}

std::vector<std::pair<std::string, std::vector<std::string>>> expected_columns() {
  auto& e = expected();
  std::lock_guard lock(e.mutex);
  return e.columns;
}

std::vector<std::string> duplicate_query_names() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> out;
  for (const auto& [name, n] : r.uses)
    if (n > 1) out.push_back(name);
  return out;
}


Result::Result(pg_result* r) : res_(r, PQclear) {}

int Result::rows() const noexcept { return res_ ? PQntuples(res_.get()) : 0; }
int Result::columns() const noexcept { return res_ ? PQnfields(res_.get()) : 0; }
namespace {
void check_cell(const pg_result* r, int row, int col) {
  if (!r || row < 0 || col < 0 || row >= PQntuples(r) || col >= PQnfields(r))
    throw ApiError(ErrorCode::internal, "Internal server error",
                   "result cell (" + std::to_string(row) + ", " + std::to_string(col) + ") is outside the result (" +
                       std::to_string(r ? PQntuples(r) : 0) + " rows, " + std::to_string(r ? PQnfields(r) : 0) +
                       " columns)");
}
}  // namespace

bool Result::is_null(int row, int col) const {
  check_cell(res_.get(), row, col);
  return PQgetisnull(res_.get(), row, col) != 0;
}
std::string_view Result::get(int row, int col) const {
  check_cell(res_.get(), row, col);
  return {PQgetvalue(res_.get(), row, col), static_cast<std::size_t>(PQgetlength(res_.get(), row, col))};
}
std::optional<std::string> Result::get_optional(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return std::string(get(row, col));
}
std::int64_t Result::get_int(int row, int col) const {
  auto v = get(row, col);
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{}) throw ApiError(ErrorCode::internal, "Internal error", "not an integer column value");
  return out;
}
// from_chars reads what PostgreSQL writes for float8 (the shortest text that reads back, NaN, Infinity)
// without a copy or the locale: strtod on a copy was a tenth of a 10,000-point wafer map's time.
double Result::get_double(int row, int col) const {
  const auto v = get(row, col);
  double out = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} && ec != std::errc::result_out_of_range)
    throw ApiError(ErrorCode::internal, "Internal error", "not a number column value");
  return out;
}
std::optional<double> Result::get_optional_double(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return get_double(row, col);
}
bool Result::get_bool(int row, int col) const { return get(row, col) == "t"; }
int Result::column_index(const char* name) const noexcept { return PQfnumber(res_.get(), name); }
int Result::column(const char* name) const {
  const int c = column_index(name);
  if (c < 0)
    throw ApiError(ErrorCode::internal, "Internal server error", std::string("the result has no column ") + name);
  return c;
}
std::string_view Result::column_name(int col) const {
  if (col < 0 || col >= columns()) throw std::out_of_range("result column " + std::to_string(col) + " is outside the result");
  return PQfname(res_.get(), col);
}
unsigned Result::column_type(int col) const {
  if (col < 0 || col >= columns()) throw std::out_of_range("result column " + std::to_string(col) + " is outside the result");
  return PQftype(res_.get(), col);
}
std::int64_t Result::affected_rows() const noexcept {
  const char* n = PQcmdTuples(res_.get());
  return (n && *n) ? std::atoll(n) : 0;
}

Params& Params::add(double v) {
  if (!std::isfinite(v)) throw unprocessable("Numbers must be finite");
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  values_.emplace_back(std::string(buf, p));
  return *this;
}

Params& Params::add_array(const std::vector<std::string>& items) {
  std::string lit = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) lit += ',';
    lit += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') lit += '\\';
      lit += c;
    }
    lit += '"';
  }
  lit += '}';
  values_.emplace_back(std::move(lit));
  return *this;
}

Params& Params::add_bytea(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string lit = "\\x";
  lit.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    lit += hex[c >> 4];
    lit += hex[c & 15];
  }
  values_.emplace_back(std::move(lit));
  return *this;
}

std::string decode_bytea(std::string_view text) {
  if (!text.starts_with("\\x")) return std::string(text);
  std::string out;
  out.reserve((text.size() - 2) / 2);
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
  };
  for (std::size_t i = 2; i + 1 < text.size(); i += 2) out += static_cast<char>(nib(text[i]) << 4 | nib(text[i + 1]));
  return out;
}

}  // namespace spectra::db
