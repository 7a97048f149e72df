#pragma once
// How a handler reads and writes: a resource's JSON shape declared once, "one row or 404", "a page",
// and a write transaction that commits together with its audit entries.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kit/context.hpp"
#include "kit/route.hpp"
#include "platform/db/row_json.hpp"
#include "platform/db/tx.hpp"

namespace spectra::kit {

// The JSON a resource answers, declared as the list of its fields: "column" or "name=sql expression"
// (the expression may use the alias as `$.`). Nothing outside the list is ever shown, so a new
// secret column does not leak by default.
//
// The database returns the fields as typed columns and the API server writes the JSON
// (db::RowJson): a statement selects `shape.sql(alias)` and whatever helper columns it needs, each
// named with a leading "_" (`s.id AS _id`), which the JSON leaves out. Handlers read a row with
// db::row_json or through read_one, List and Write, never a JSON document built by SQL.
struct Shape {
  std::span<const std::string_view> fields;
  // `u.id AS "id", u.email AS "email", ...` for a table aliased `alias`.
  std::string sql(std::string_view alias) const;
  // jsonb_build_object('id', u.id, ...): for the few places where the database must hold the JSON
  // itself (an audit event's `before`, the items of a nested list).
  std::string jsonb(std::string_view alias) const;
};


// ---- Reads ----

// The items of a comma-separated column (string_agg(x::text, ',') of ids): none for "".
std::vector<std::string> split_list(std::string_view text);

// The only row as its JSON object (row_json); 404 with `missing` when there is no row.
boost::asio::awaitable<std::string> read_one(RequestContext& ctx, const db::Query& q, db::Params params,
                                             std::string_view missing = "Not found");
// The same, answered as 200.
Reply one(RequestContext& ctx, const db::Query& q, db::Params params, std::string_view missing = "Not found");

// A sort key of a list: its name in ?sort=, its SQL expression (NOT NULL) and its SQL type.
struct SortKey {
  std::string_view name;
  std::string_view expr;
  std::string_view type;  // timestamptz, text, bigint, numeric, date
};

// A column of a list's CSV export: its header and its SQL expression (any type; sent as text).
struct CsvColumn {
  std::string_view name;
  std::string_view expr;
};

// A list: its query (shape, table, filters) declared once; the kit adds the organization filter, the
// keyset predicate, ORDER BY and LIMIT, one prepared statement per sort. $1 is the organization (as in
// every statement of a transaction); filters use $2..$n; the kit numbers its own parameters after the
// highest one. A join names the organization too (`JOIN t x ON x.organization_id = $1 AND …`).
//   {"items": [...], "next_cursor": "…" | null}, newest first unless ?sort= says otherwise.
class List {
 public:
  struct Spec {
    std::string name;     // prefix of its statement names
    std::string select;   // the columns of one item, e.g. user_shape.sql("u")
    std::string from;     // "users u" (joins allowed)
    std::string alias;    // "u": its organization_id, id and created_at
    std::string where;    // filters, "" for none
    std::vector<SortKey> sorts;  // created_at is always one
    std::string default_sort = "-created_at";
    std::vector<CsvColumn> csv = {};  // when set, the list also exports as CSV (csv())
    // How many of the first filter parameters ($2, ...) every request gives (a scan's barcode, the
    // sample of a custody chain): requests that give those alone use prepared statements.
    int always_given = 0;
  };
  explicit List(Spec spec);
  ~List();
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  boost::asio::awaitable<std::string> page_json(RequestContext& ctx, db::Params filters, PageRequest page) const;
  // By value: a coroutine must own what it reads after its first suspension.
  Reply page(RequestContext& ctx, db::Params filters, PageRequest page) const;
  // Every matching row as CSV (RFC 4180, formula-safe), in the order of `sort`: streamed a page at a
  // time, each page its own short read, so the server's memory stays flat however many rows match
  // and no connection waits on a slow client. The list must declare its csv columns.
  Reply csv(RequestContext& ctx, db::Params filters, std::optional<std::string> sort, std::string filename) const;

 private:
  struct Variant;
  class CsvStream;
  const Variant& variant_for(const std::optional<std::string>& sort) const;
  Spec spec_;
  std::vector<std::unique_ptr<Variant>> variants_;
};

// ---- Writes ----

// What an audited write records; the entity id comes from the row the statement returns.
struct Audit {
  std::string_view action;       // "user.create", "api_key.revoke", ...
  std::string_view entity_type;  // "user", "api_key", ...
};

// The audit events of one table's rows, each event's `after` the row as `shape` shows it, read by the
// database in the writing transaction (`from`: the table aliased `alias`, with any joins the shape
// needs). Such an event is queued before its row's INSERT has answered, so that a create (its checks,
// the row, the event and COMMIT) goes out in one round trip. Declared beside the shape, with static
// storage (its statement is prepared like any other).
class RowEvents {
 public:
  RowEvents(std::string name, const Shape& shape, std::string_view from, std::string_view alias);
  const db::Query query;
};

// A write transaction of one request. Audit entries are queued and sent with COMMIT, in the same round
// trip, so an entry exists exactly when its change does.
class Write {
 public:
  Write(db::Tx& tx, audit::Actor actor) : tx_(tx), actor_(std::move(actor)) {}
  boost::asio::awaitable<db::Result> exec(const db::Query& q, db::Params params = {});
  boost::asio::awaitable<std::vector<db::Result>> exec_all(std::vector<db::Statement> statements);
  // After inserting many rows that later statements reference: db::Tx::replan.
  boost::asio::awaitable<void> replan() { return tx_.replan(); }
  void audit(std::string_view action, std::string_view entity_type, std::optional<std::string> entity_id,
             std::optional<std::string> before, std::optional<std::string> after);
  // Creates the row `id` and ends the transaction, in one round trip: `checks` (statements that raise
  // rather than answer, such as app.require_live), the INSERT … RETURNING the shape's columns, the
  // row's audit event (from `events`) and COMMIT. Answers the row's JSON.
  boost::asio::awaitable<std::string> create(const db::Query& q, db::Params params, Audit what,
                                             const RowEvents& events, std::string id,
                                             std::vector<db::Statement> checks = {});
  // Sends `last`, the queued audit entries and COMMIT in one round trip, and answers the results of
  // `last`: the transaction ends here (nothing may run after it). Queue the audit entries first. A
  // batch of more than max_statements_per_round_trip statements goes that many at a time, the last of
  // them with the audit entries and COMMIT.
  static constexpr std::size_t max_statements_per_round_trip = 32;
  boost::asio::awaitable<std::vector<db::Result>> commit(std::vector<db::Statement> last);
  // A statement RETURNING `_before` (the old row as jsonb, Shape::jsonb) and the shape's columns of the
  // new one (with `id` or `_id`): 404 with `missing` when it touches no row; audited with both;
  // answers the new row's JSON.
  boost::asio::awaitable<std::string> change(const db::Query& q, db::Params params, Audit what,
                                             std::string_view missing = "Not found");

 private:
  db::Tx& tx_;
  audit::Actor actor_;
};

// Records an audit entry of the caller in a transaction of its own, before the answer: a refusal
// worth recording (a file with malware) whose request writes nothing else. Retried while the database
// is briefly unavailable (db::with_retries).
boost::asio::awaitable<void> audit_apart(RequestContext& ctx, audit::Entry entry);

// The coroutine behind write(): Write lives in its frame.
template <class F>
auto run_write(db::Tx& tx, audit::Actor actor, F body) -> std::invoke_result_t<F, Write&> {
  Write w(tx, std::move(actor));
  if constexpr (std::is_void_v<typename std::invoke_result_t<F, Write&>::value_type>) {
    co_await body(w);
  } else {
    co_return co_await body(w);
  }
}


// Runs body(Write&) in one read-write transaction with this tenant context, the audit trail naming
// actor: commits (with the queued audit entries) when it returns, rolls back when it throws. body
// may return void. Before the caller is authenticated (login, refresh) the tenant and the actor are
// the account's, found by a pre-tenant lookup.
template <class F>
auto write_as(RequestContext& ctx, db::TenantContext tenant, audit::Actor actor, F body) -> std::invoke_result_t<F, Write&> {
  static_assert(std::is_trivially_copyable_v<F>, "pass a [&] lambda to kit::write");
  // tenant and actor live in this frame while transact holds references to them.
  co_return co_await db::transact(ctx.db(), tenant, db::Mode::read_write,
                                  [&actor, body](db::Tx& tx) { return run_write(tx, actor, body); });
}

// The same as the caller: the way a handler writes.
template <class F>
auto write(RequestContext& ctx, F body) {
  return write_as(ctx, ctx.tenant(), ctx.actor(), body);
}

}  // namespace spectra::kit
