#pragma once
// Query results and parameters: text format both ways, owned PGresult.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <functional>
#include <initializer_list>
#include <utility>
#include <vector>

struct pg_result;

namespace spectra::db {

// A named SQL statement, prepared once per connection (the pool caches it by name). Declare queries
// with static storage: each registers itself, and the server refuses to start when two share a name
// (duplicate_query_names), since a collision would silently run the other statement.
class Query {
 public:
  Query(std::string name, std::string sql);
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  const std::string name;
  const std::string sql;
};

// The names registered more than once so far (empty when every statement has its own name).
std::vector<std::string> duplicate_query_names();
// Every statement registered so far, by name (the first one's SQL when a name repeats).
std::vector<std::pair<std::string, std::string>> registered_queries();

class Result {
 public:
  Result() = default;
  explicit Result(pg_result* r);

  int rows() const noexcept;
  int columns() const noexcept;
  bool empty() const noexcept { return rows() == 0; }
  // A cell outside the result is a programming error: it throws (a logged 500), never a silent "".
  bool is_null(int row, int col) const;
  std::string_view get(int row, int col) const;  // "" for NULL
  std::optional<std::string> get_optional(int row, int col) const;
  std::int64_t get_int(int row, int col) const;
  double get_double(int row, int col) const;
  std::optional<double> get_optional_double(int row, int col) const;  // nullopt for NULL
  bool get_bool(int row, int col) const;
  int column_index(const char* name) const noexcept;  // -1 when absent
  // A cell by its column's name (a statement's helper such as "_status", or a shape's field): a name
  // the result lacks is a programming error and throws, naming it.
  int column(const char* name) const;
  std::string_view get(int row, const char* name) const { return get(row, column(name)); }
  std::optional<std::string> get_optional(int row, const char* name) const { return get_optional(row, column(name)); }
  std::int64_t get_int(int row, const char* name) const { return get_int(row, column(name)); }
  bool get_bool(int row, const char* name) const { return get_bool(row, column(name)); }
  std::string_view column_name(int col) const;
  unsigned column_type(int col) const;  // the column's type OID
  std::int64_t affected_rows() const noexcept;

 private:
  std::shared_ptr<pg_result> res_;
};

// Positional parameters ($1, $2, ...) in text format; std::nullopt is SQL NULL.
class Params {
 public:
  Params() = default;
  template <class... T>
  explicit Params(T&&... values) {
    values_.reserve(sizeof...(T));
    (add(std::forward<T>(values)), ...);
  }
  Params& add(std::nullopt_t) { values_.emplace_back(std::nullopt); return *this; }
  Params& add(std::string v) { values_.emplace_back(std::move(v)); return *this; }
  Params& add(std::string_view v) { values_.emplace_back(std::string(v)); return *this; }
  Params& add(const char* v) { values_.emplace_back(std::string(v)); return *this; }
  Params& add(bool v) { values_.emplace_back(v ? "true" : "false"); return *this; }
  Params& add(int v) { values_.emplace_back(std::to_string(v)); return *this; }
  Params& add(long v) { values_.emplace_back(std::to_string(v)); return *this; }
  Params& add(long long v) { values_.emplace_back(std::to_string(v)); return *this; }
  Params& add(double v);
  template <class T>
  Params& add(const std::optional<T>& v) {
    if (v) return add(*v);
    return add(std::nullopt);
  }
  // A text[] literal.
  Params& add_array(const std::vector<std::string>& items);
  // A bytea in hex form.
  Params& add_bytea(std::string_view bytes);

  // Puts v before the other values (it becomes $1).
  Params& prepend(std::string v) {
    values_.insert(values_.begin(), std::optional<std::string>(std::move(v)));
    return *this;
  }

  std::size_t size() const noexcept { return values_.size(); }
  const std::vector<std::optional<std::string>>& values() const noexcept { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// A statement in a pipeline: a named, prepared query, or a plain text command (BEGIN, COMMIT).
struct Statement {
  const Query* query = nullptr;
  Params params;
  const char* text = nullptr;
};

// The columns a statement's readers need by name (a Decoder's), checked at start-up against the
// statement's result description (statement_problems).
void expect_columns(const Query& q, std::vector<std::string> names);
// Every statement's expected columns so far, by statement name.
std::vector<std::pair<std::string, std::vector<std::string>>> expected_columns();

// A row of one statement read by column name into a plain struct: declared beside the statement, with
// static storage, and checked at start-up against the statement's result description, so a renamed
// or dropped column stops the server instead of shifting a field. A NULL reads as "" (std::string),
// nullopt (std::optional), or throws (numbers, bool).
//   struct Locked { std::string status; std::int64_t version; std::optional<std::string> sop_id; };
//   const db::Decoder<Locked> locked{lock_q, {{"_status", &Locked::status}, {"_version", &Locked::version},
//                                             {"_sop_id", &Locked::sop_id}}};
//   const Locked row = locked(r);  // the first row; locked(r, i) for row i
namespace detail {
inline void read_cell(const Result& r, int row, int col, std::string& v) { v = r.get(row, col); }
inline void read_cell(const Result& r, int row, int col, std::optional<std::string>& v) { v = r.get_optional(row, col); }
inline void read_cell(const Result& r, int row, int col, std::int64_t& v) { v = r.get_int(row, col); }
inline void read_cell(const Result& r, int row, int col, std::optional<std::int64_t>& v) {
  v = r.is_null(row, col) ? std::nullopt : std::optional<std::int64_t>(r.get_int(row, col));
}
inline void read_cell(const Result& r, int row, int col, bool& v) { v = r.get_bool(row, col); }
inline void read_cell(const Result& r, int row, int col, double& v) { v = r.get_double(row, col); }
inline void read_cell(const Result& r, int row, int col, std::optional<double>& v) { v = r.get_optional_double(row, col); }
}  // namespace detail

template <class T>
class Decoder {
 public:
  // A column and the member it fills (std::string, std::int64_t, bool, double, or std::optional of one).
  class Column {
   public:
    template <class V>
    Column(const char* name, V T::*member)
        : name_(name), read_([member](const Result& r, int row, int col, T& out) {
            detail::read_cell(r, row, col, out.*member);
          }) {}
    const char* name() const noexcept { return name_; }
    void read(const Result& r, int row, T& out) const { read_(r, row, r.column(name_), out); }
    void read_at(const Result& r, int row, int col, T& out) const { read_(r, row, col, out); }

   private:
    const char* name_;
    std::function<void(const Result&, int, int, T&)> read_;
  };
  Decoder(const Query& q, std::initializer_list<Column> columns) : Decoder({&q}, columns) {}
  // One reader of several statements that answer the same columns (each is checked).
  Decoder(std::initializer_list<const Query*> queries, std::initializer_list<Column> columns) : columns_(columns) {
    std::vector<std::string> names;
    for (const auto& c : columns_) names.emplace_back(c.name());
    for (const Query* q : queries) expect_columns(*q, names);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  T operator()(const Result& r, int row = 0) const {
    T out{};
    for (const auto& c : columns_) c.read(r, row, out);
    return out;
  }
  // Every row, each column found by its name once: for results of thousands of rows, where finding the
  // columns row by row cost more than reading them.
  std::vector<T> all(const Result& r) const {
    std::vector<int> at;
    at.reserve(columns_.size());
    for (const auto& c : columns_) at.push_back(r.column(c.name()));
    std::vector<T> out(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row)
      for (std::size_t k = 0; k < columns_.size(); ++k) columns_[k].read_at(r, row, at[k], out[static_cast<std::size_t>(row)]);
    return out;
  }

 private:
  std::vector<Column> columns_;
};

// Decodes PostgreSQL's hex bytea output ("\x0a1b...").
std::string decode_bytea(std::string_view text);

}  // namespace spectra::db
