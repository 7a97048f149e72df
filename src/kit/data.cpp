#include "kit/data.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <map>
#include <stdexcept>
#include <utility>

#include "audit/audit.hpp"
#include "kit/csv.hpp"
#include "kit/cursor.hpp"
#include "platform/db/row_json.hpp"

namespace asio = boost::asio;

namespace spectra::kit {
namespace {

// The highest $n a SQL text uses.
int highest_parameter(std::string_view sql) {
  int best = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '$') continue;
    int n = 0;
    std::size_t j = i + 1;
    while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) n = n * 10 + (sql[j++] - '0');
    best = std::max(best, n);
  }
  return best;
}

}  // namespace

asio::awaitable<void> audit_apart(RequestContext& ctx, audit::Entry entry) {
  const auto tenant = ctx.tenant();
  const auto actor = ctx.actor();
  // Named: GCC 12 mishandles temporaries (a std::function among them) inside co_await.
  std::function<asio::awaitable<void>()> attempt = [&]() -> asio::awaitable<void> {
    co_await db::transact(ctx.db(), tenant, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<void> {
      tx.defer(audit::statement(actor, entry));
      co_return;
    });
  };
  co_await db::with_retries(attempt);
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = std::min(text.find(','), text.size());
    out.emplace_back(text.substr(0, comma));
    text.remove_prefix(std::min(comma + 1, text.size()));
  }
  return out;
}

namespace {

// Each field as its name and its SQL expression for a table aliased `alias`.
template <class F>
void each_field(std::span<const std::string_view> fields, std::string_view alias, F emit) {
  for (auto f : fields) {
    const auto eq = f.find('=');
    if (eq == std::string_view::npos) {
      emit(f, std::string(alias) + "." + std::string(f));
    } else {
      std::string expr(f.substr(eq + 1));
      for (std::size_t p = expr.find("$."); p != std::string::npos; p = expr.find("$.", p))
        expr.replace(p, 1, std::string(alias));
      emit(f.substr(0, eq), std::move(expr));
    }
  }
}

}  // namespace

std::string Shape::sql(std::string_view alias) const {
  std::string out;
  each_field(fields, alias, [&](std::string_view name, std::string expr) {
    if (!out.empty()) out += ", ";
    out += expr + " AS \"" + std::string(name) + "\"";
  });
  return out;
}

std::string Shape::jsonb(std::string_view alias) const {
  std::string out = "jsonb_build_object(";
  bool first = true;
  each_field(fields, alias, [&](std::string_view name, std::string expr) {
    if (!first) out += ", ";
    first = false;
    out += "'" + std::string(name) + "', " + expr;
  });
  return out + ")";
}

RowEvents::RowEvents(std::string name, const Shape& shape, std::string_view from, std::string_view alias)
    : query(std::move(name), audit::row_event_sql(shape.jsonb(alias), from, alias)) {}

asio::awaitable<std::string> read_one(RequestContext& ctx, const db::Query& q, db::Params params, std::string_view missing) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), q, std::move(params));
  if (r.empty()) throw not_found(std::string(missing));
  std::string row = db::row_json(r, 0);  // named: GCC 12 mishandles a temporary in co_return
  co_return row;
}

Reply one(RequestContext& ctx, const db::Query& q, db::Params params, std::string_view missing) {
  auto body = co_await read_one(ctx, q, std::move(params), missing);
  co_return http::Response::json(200, std::move(body));
}

namespace {

// The statement text for the parameters a request gives: each absent one ($2 and up) becomes a NULL
// constant and the others are numbered anew, in order. `given[i]` is whether $(i + 2) is given.
std::string with_given(const std::string& sql, const std::vector<bool>& given) {
  std::vector<int> number(given.size(), 0);
  for (std::size_t i = 0, next = 2; i < given.size(); ++i)
    if (given[i]) number[i] = static_cast<int>(next++);
  std::string out;
  out.reserve(sql.size());
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '$' || i + 1 >= sql.size() || !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out += sql[i];
      continue;
    }
    std::size_t j = i + 1;
    int n = 0;
    while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) n = n * 10 + (sql[j++] - '0');
    const std::size_t at = static_cast<std::size_t>(n - 2);
    if (n < 2 || at >= given.size()) out += sql.substr(i, j - i);
    else out += given[at] ? "$" + std::to_string(number[at]) : "NULL";
    i = j - 1;
  }
  return out;
}

}  // namespace

// One sort key in one direction: its statements. A list's filters are written `($n IS NULL OR …)`.
// Prepared as they are, a statement's cached generic plan cannot fold the absent ones away, and
// PostgreSQL may then read the whole organization and sort it (a page of 50 of 10,000 samples took
// 120 ms instead of 1 ms). So a request is sent with its absent parameters as NULL constants: the
// common shapes (no filter; first or next page) are prepared once, as if the SQL had been written for
// them (with the filters every request gives, such as a scan's barcode); a request with other filters
// is a plain statement, planned for its values each time, so that the number of prepared statements
// per connection stays two per sort whatever filters clients try.
struct List::Variant {
  std::string sort;  // "created_at" or "-created_at"
  SortKey key;
  int filters = 0;                   // $2 .. $(filters + 1); then the cursor's two and the limit
  int always_given = 0;              // the first filters every request gives
  std::unique_ptr<db::Query> query;  // every parameter a placeholder (what `spectra db statement` shows)
  std::unique_ptr<db::Query> csv;    // the CSV columns, when the list exports

  struct Shape {
    std::string text;
    std::unique_ptr<db::Query> prepared;  // for the common shapes
  };
  mutable std::mutex mutex;
  mutable std::map<std::pair<bool, std::vector<bool>>, Shape> shapes;

  // The statement for these parameters ($2 and up), carrying the given ones alone.
  db::Statement statement(bool as_csv, const db::Params& all) const {
    std::vector<bool> given;
    db::Params values;
    for (const auto& v : all.values()) {
      given.push_back(v.has_value());
      if (v) values.add(*v);
    }
    const bool unfiltered = std::none_of(given.begin() + always_given, given.begin() + filters, [](bool g) { return g; });
    const db::Query& full = as_csv ? *csv : *query;
    std::lock_guard lock(mutex);
    auto& shape = shapes[{as_csv, given}];
    if (shape.text.empty()) {
      shape.text = with_given(full.sql, given);
      if (unfiltered)
        shape.prepared = std::make_unique<db::Query>(full.name + (given[filters] ? "_next" : "_first"), shape.text);
    }
    db::Statement st;
    st.params = std::move(values);
    if (shape.prepared) st.query = shape.prepared.get();
    else st.text = shape.text.c_str();
    return st;
  }
};

List::List(Spec spec) : spec_(std::move(spec)) {
  const std::string a = spec_.alias;
  bool has_created = false;
  for (const auto& k : spec_.sorts) has_created = has_created || k.name == "created_at";
  if (!has_created) spec_.sorts.insert(spec_.sorts.begin(), SortKey{"created_at", "", "timestamptz"});
  // $1 is the organization (bound by the transaction); the filters are $2, $3, ...
  const int n = std::max(1, highest_parameter(spec_.where));
  const std::string after_value = "$" + std::to_string(n + 1), after_id = "$" + std::to_string(n + 2),
                    limit = "$" + std::to_string(n + 3);
  for (const auto& k : spec_.sorts) {
    const std::string expr = k.expr.empty() ? a + "." + std::string(k.name) : std::string(k.expr);
    for (const bool desc : {false, true}) {
      const std::string cmp = desc ? "<" : ">", dir = desc ? " DESC" : " ASC";
      std::string rest = ", (" + expr + ")::text AS _sort, " + a + ".id AS _id FROM " + spec_.from + " WHERE " + a +
                         ".organization_id = $1";
      if (!spec_.where.empty()) rest += " AND (" + spec_.where + ")";
      rest += " AND (" + after_value + "::" + std::string(k.type) + " IS NULL OR (" + expr + ", " + a + ".id) " + cmp +
              " (" + after_value + "::" + std::string(k.type) + ", " + after_id + "::uuid))";
      rest += " ORDER BY " + expr + dir + ", " + a + ".id" + dir + " LIMIT " + limit;
      auto v = std::make_unique<Variant>();
      v->sort = (desc ? "-" : "") + std::string(k.name);
      v->key = k;
      v->filters = n - 1;
      v->always_given = spec_.always_given;
      const std::string name = spec_.name + (desc ? "_by_" : "_asc_by_") + std::string(k.name);
      v->query = std::make_unique<db::Query>(name, "SELECT " + spec_.select + rest);
      if (!spec_.csv.empty()) {
        std::string columns;
        for (const auto& c : spec_.csv) {
          if (!columns.empty()) columns += ", ";
          columns.append("(").append(c.expr).append(")::text");
        }
        v->csv = std::make_unique<db::Query>(name + "_csv", "SELECT " + columns + rest);
      }
      variants_.push_back(std::move(v));
    }
  }
  variant_for(spec_.default_sort);  // the default must be one of them
}

List::~List() = default;

const List::Variant& List::variant_for(const std::optional<std::string>& sort) const {
  const std::string& want = sort ? *sort : spec_.default_sort;
  for (const auto& v : variants_)
    if (v->sort == want) return *v;
  std::string keys;
  for (const auto& k : spec_.sorts) keys += (keys.empty() ? "" : ", ") + std::string(k.name);
  if (!sort) throw std::logic_error("list " + spec_.name + ": default sort " + want + " is not a sort key");
  throw std::move(bad_request("sort must be one of " + keys + " (a leading - sorts descending)")
                      .with_field("sort", "must be one of " + keys));
}

asio::awaitable<std::string> List::page_json(RequestContext& ctx, db::Params filters, PageRequest page) const {
  const Variant& v = variant_for(page.sort);
  std::optional<std::string> after_value, after_id;
  if (page.cursor && !page.cursor->empty()) {
    Cursor after = decode_cursor(*page.cursor, v.sort, v.key.type);
    after_value = std::move(after.value);
    after_id = std::move(after.id);
  }
  filters.add(after_value).add(after_id).add(page.limit + 1);
  auto rows = co_await db::read(ctx.db(), ctx.tenant(), v.statement(false, filters));

  std::string out = "{\"items\":[";
  const int n = std::min(rows.rows(), page.limit);
  const db::RowJson item(rows);
  out.reserve(64 + static_cast<std::size_t>(n) * 640);  // a sample's row is about 550 bytes
  for (int i = 0; i < n; ++i) {
    if (i) out += ',';
    item.append(out, i);
  }
  out += "],\"next_cursor\":";
  if (rows.rows() > page.limit) {
    const int sort_col = rows.column("_sort"), id_col = rows.column("_id");
    out += '"' + encode_cursor({v.sort, std::string(rows.get(n - 1, sort_col)), std::string(rows.get(n - 1, id_col))}) + '"';
  } else {
    out += "null";
  }
  out += '}';
  co_return out;
}

Reply List::page(RequestContext& ctx, db::Params filters, PageRequest page) const {
  auto body = co_await page_json(ctx, std::move(filters), std::move(page));
  co_return http::Response::json(200, std::move(body));
}

// Pages of CSV rows through the list's own keyset, each fetched when the previous one was sent.
class List::CsvStream final : public http::BodyStream {
 public:
  CsvStream(const List& list, const Variant& v, db::Pool& pool, db::TenantContext tenant, db::Params filters)
      : list_(list), v_(v), pool_(pool), tenant_(std::move(tenant)), filters_(std::move(filters)) {}

  // The first page is read before the head is sent, so that a failure then is still a proper error.
  asio::awaitable<void> start() { first_ = co_await produce(); }

  asio::awaitable<std::optional<std::string>> next() override {
    if (first_) co_return std::exchange(first_, std::nullopt);
    co_return co_await produce();
  }

 private:
  asio::awaitable<std::optional<std::string>> produce() {
    if (done_) co_return std::nullopt;
    std::string out;
    if (!header_sent_) {
      std::vector<std::string_view> names;
      for (const auto& c : list_.spec_.csv) names.push_back(c.name);
      csv::append_row(out, names);
      header_sent_ = true;
    }
    db::Params p = filters_;
    p.add(after_value_).add(after_id_).add(page_size);
    auto rows = co_await db::read(pool_, tenant_, v_.statement(true, p));
    const int columns = static_cast<int>(list_.spec_.csv.size());
    std::vector<std::string_view> cells(columns);
    for (int i = 0; i < rows.rows(); ++i) {
      for (int c = 0; c < columns; ++c) cells[c] = rows.get(i, c);  // NULL reads as "": an empty cell
      csv::append_row(out, cells);
    }
    if (rows.rows() < page_size) {
      done_ = true;
    } else {
      after_value_ = std::string(rows.get(rows.rows() - 1, columns));
      after_id_ = std::string(rows.get(rows.rows() - 1, columns + 1));
    }
    co_return out;
  }

  static constexpr int page_size = 1000;
  const List& list_;
  const Variant& v_;
  db::Pool& pool_;
  db::TenantContext tenant_;
  db::Params filters_;
  std::optional<std::string> after_value_, after_id_;
  std::optional<std::string> first_;
  bool header_sent_ = false, done_ = false;
};

Reply List::csv(RequestContext& ctx, db::Params filters, std::optional<std::string> sort, std::string filename) const {
  const Variant& v = variant_for(sort);
  if (!v.csv) throw std::logic_error("list " + spec_.name + " declares no csv columns");
  http::Response r;
  r.content_type = "text/csv; charset=utf-8";
  r.header("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  r.header("Vary", "Accept");
  auto stream = std::make_shared<CsvStream>(*this, v, ctx.db(), ctx.tenant(), std::move(filters));
  co_await stream->start();
  r.stream = std::move(stream);
  co_return r;
}

asio::awaitable<db::Result> Write::exec(const db::Query& q, db::Params params) {
  co_return co_await tx_.exec(q, std::move(params));
}

asio::awaitable<std::vector<db::Result>> Write::exec_all(std::vector<db::Statement> statements) {
  co_return co_await tx_.exec_all(std::move(statements));
}

asio::awaitable<std::vector<db::Result>> Write::commit(std::vector<db::Statement> last) {
  // A long batch goes max_statements_per_round_trip at a time, so that no round trip outlasts the
  // query deadline however large the batch (100,000 SPC points are 196 inserts).
  std::vector<db::Result> results;
  std::size_t from = 0;
  while (last.size() - from > max_statements_per_round_trip) {
    std::vector<db::Statement> part(std::make_move_iterator(last.begin() + static_cast<std::ptrdiff_t>(from)),
                                    std::make_move_iterator(last.begin() + static_cast<std::ptrdiff_t>(from + max_statements_per_round_trip)));
    auto done = co_await tx_.exec_all(std::move(part));
    for (auto& r : done) results.push_back(std::move(r));
    from += max_statements_per_round_trip;
  }
  std::vector<db::Statement> tail(std::make_move_iterator(last.begin() + static_cast<std::ptrdiff_t>(from)),
                                  std::make_move_iterator(last.end()));
  auto done = co_await tx_.commit(std::move(tail));
  for (auto& r : done) results.push_back(std::move(r));
  co_return results;
}

void Write::audit(std::string_view action, std::string_view entity_type, std::optional<std::string> entity_id,
                  std::optional<std::string> before, std::optional<std::string> after) {
  tx_.defer(audit::statement(actor_, {std::string(action), std::string(entity_type), std::move(entity_id),
                                            std::move(before), std::move(after)}));
}

namespace {

// The audited entity of a written row: its `_id` helper, or its `id`.
std::string entity_id(const db::Result& r, const std::string& statement) {
  int col = r.column_index("_id");
  if (col < 0) col = r.column_index("id");
  if (col < 0) throw ApiError(ErrorCode::internal, "Internal server error", statement + " returns no id");
  return std::string(r.get(0, col));
}

}  // namespace

asio::awaitable<std::string> Write::create(const db::Query& q, db::Params params, Audit what, const RowEvents& events,
                                           std::string id, std::vector<db::Statement> checks) {
  tx_.defer(audit::row_event(events.query, actor_, what.action, what.entity_type, std::move(id)));
  checks.push_back({&q, std::move(params)});
  auto r = co_await tx_.commit(std::move(checks));
  if (r.back().empty()) throw ApiError(ErrorCode::internal, "Internal server error", q.name + " inserted no row");
  std::string row = db::row_json(r.back(), 0);
  co_return row;
}

asio::awaitable<std::string> Write::change(const db::Query& q, db::Params params, Audit what, std::string_view missing) {
  auto r = co_await tx_.exec(q, std::move(params));
  if (r.empty()) throw not_found(std::string(missing));
  std::string after = db::row_json(r, 0);
  audit(what.action, what.entity_type, entity_id(r, q.name), r.get_optional(0, "_before"), after);
  co_return after;
}

}  // namespace spectra::kit
