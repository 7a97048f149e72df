#pragma once
// The one way a request reaches the database: a transaction that carries the caller's tenant context.
// BEGIN, the context (app.begin_request) and the first statement go out in one round trip; statements
// deferred with defer() (audit entries) go out with COMMIT, in the last round trip.
//
// In every statement a Tx runs, $1 is the caller's organization: the Tx binds it, and the caller's
// parameters are $2, $3, ... Each statement filters by `organization_id = $1`, so that on Citus it is
// routed to the one shard of that organization (row-level security checks the same thing again).
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <type_traits>
#include <string>
#include <vector>

#include "platform/db/pool.hpp"
#include "platform/db/result.hpp"

namespace spectra::db {

struct TenantContext {
  std::string org_id;
  std::string user_id;  // empty: the system acting for the organization (login, refresh)
  std::string role;
};

enum class Mode { read_only, read_write };

class Tx {
 public:
  Tx(Connection& conn, const TenantContext& ctx, Mode mode);
  // Runs one statement in the transaction (BEGIN and the tenant context ride along the first time).
  // $1 is the organization; `params` are $2, $3, ...
  boost::asio::awaitable<Result> exec(const Query& q, Params params = {});
  // Runs several statements in one round trip; results in order.
  boost::asio::awaitable<std::vector<Result>> exec_all(std::vector<Statement> statements);
  // Queues a statement whose result nobody reads; it is sent with COMMIT.
  void defer(Statement s) { deferred_.push_back(bind_tenant(std::move(s))); }
  // Sends `last`, the deferred statements and COMMIT in one round trip; the transaction ends with it.
  // Answers the results of `last`.
  boost::asio::awaitable<std::vector<Result>> commit(std::vector<Statement> last = {});
  // commit() with one statement.
  boost::asio::awaitable<Result> exec_commit(const Query& q, Params params = {});
  // Makes the session plan its statements again (DISCARD PLANS), in a round trip of its own, once the
  // transaction has inserted many rows that its next statements' foreign keys reference. PostgreSQL
  // keeps a session's plan of each foreign-key check for the session's life; a plan made while the
  // referenced table was a page or two is a sequential scan, and every check of a row then reads every
  // row this transaction inserted: quadratic (16,384 links to 100,000 new SPC points took over a minute
  // instead of a second). Plans made now see the table's size.
  boost::asio::awaitable<void> replan();

  bool started() const noexcept { return started_; }
  bool has_deferred() const noexcept { return !deferred_.empty(); }
  bool finished() const noexcept { return finished_; }
  const TenantContext& context() const noexcept { return ctx_; }

 private:
  friend boost::asio::awaitable<void> run_transaction(Pool&, const TenantContext&, Mode,
                                                      std::function<boost::asio::awaitable<void>(Tx&)>);
  boost::asio::awaitable<std::vector<Result>> send(std::vector<Statement> statements, bool commit);
  Statement bind_tenant(Statement s) const;

  Connection& conn_;
  const TenantContext& ctx_;
  Mode mode_;
  bool started_ = false;
  bool finished_ = false;
  std::vector<Statement> deferred_;
};

boost::asio::awaitable<void> run_transaction(Pool& pool, const TenantContext& ctx, Mode mode,
                                             std::function<boost::asio::awaitable<void>(Tx&)> body);

// Runs body(tx) in a transaction with the tenant context; commits when it returns, rolls back when it
// throws. body may return awaitable<void>.
template <class F>
auto transact(Pool& pool, const TenantContext& ctx, Mode mode, F body)
    -> boost::asio::awaitable<typename std::invoke_result_t<F, Tx&>::value_type> {
  using R = typename std::invoke_result_t<F, Tx&>::value_type;
  // GCC 12 mishandles closures with non-trivial captures passed to coroutines: capture by reference.
  static_assert(std::is_trivially_copyable_v<F>, "pass a [&] lambda to transact");
  if constexpr (std::is_void_v<R>) {
    co_await run_transaction(pool, ctx, mode, [&](Tx& tx) -> boost::asio::awaitable<void> { co_await body(tx); });
  } else {
    std::optional<R> out;
    co_await run_transaction(pool, ctx, mode,
                             [&](Tx& tx) -> boost::asio::awaitable<void> { out.emplace(co_await body(tx)); });
    co_return std::move(*out);
  }
}

// Runs `attempt` (a database write in a transaction of its own) until it succeeds, retrying while the
// database or the pool is briefly unavailable (503) with a growing pause, for up to about 15 s; then
// rethrows. For writes that must not be lost to a burst: failed-password records, refusals' audit events.
boost::asio::awaitable<void> with_retries(std::function<boost::asio::awaitable<void>()> attempt);

// One statement with no tenant context, for the narrow SECURITY DEFINER lookups that happen before a
// tenant is known (login by email, refresh token, API key by prefix). Nothing else uses it. Its
// parameters are bound as given ($1 is not the organization).
boost::asio::awaitable<Result> lookup_before_tenant(Pool& pool, const Query& q, Params params);

// A single read in one round trip: BEGIN READ ONLY, context, the query, COMMIT.
boost::asio::awaitable<Result> read(Pool& pool, const TenantContext& ctx, const Query& q, Params params = {});
// The same for a statement that may be a plain text (planned for its parameters each time).
boost::asio::awaitable<Result> read(Pool& pool, const TenantContext& ctx, Statement statement);

}  // namespace spectra::db
