#include "platform/db/tx.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>
#include <exception>

#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;
using asio::awaitable;

namespace spectra::db {
namespace {

// Sets app.org_id / app.user_id / app.role for this transaction only, and refuses a user who was
// deactivated or whose role changed since the token was issued (SQLSTATE 28000 → 401).
const Query begin_request{"platform_begin_request", "SELECT app.begin_request($1::uuid, $2::uuid, $3::text)"};

Params context_params(const TenantContext& ctx) {
  Params p;
  p.add(ctx.org_id);
  if (ctx.user_id.empty()) p.add(std::nullopt); else p.add(ctx.user_id);
  if (ctx.role.empty()) p.add(std::nullopt); else p.add(ctx.role);
  return p;
}

}  // namespace

Tx::Tx(Connection& conn, const TenantContext& ctx, Mode mode) : conn_(conn), ctx_(ctx), mode_(mode) {}

Statement Tx::bind_tenant(Statement s) const {
  s.params.prepend(ctx_.org_id);
  return s;
}

awaitable<std::vector<Result>> Tx::send(std::vector<Statement> statements, bool commit) {
  if (finished_) throw ApiError(ErrorCode::internal, "Internal server error", "statement after commit");
  std::vector<Statement> all;
  std::size_t skip = 0;
  if (!started_) {
    all.reserve(statements.size() + 3);
    Statement b;
    b.text = mode_ == Mode::read_only ? "BEGIN READ ONLY" : "BEGIN";
    all.push_back(std::move(b));
    all.push_back(Statement{&begin_request, context_params(ctx_)});
    skip = 2;
    started_ = true;
  }
  for (auto& s : statements) all.push_back(bind_tenant(std::move(s)));
  const std::size_t deferred = commit ? deferred_.size() : 0;
  if (commit) {
    for (auto& s : deferred_) all.push_back(std::move(s));
    deferred_.clear();
    Statement c;
    c.text = "COMMIT";
    all.push_back(std::move(c));
  }
  auto results = co_await conn_.pipeline(all);
  if (commit) {
    finished_ = true;
    results.resize(results.size() - 1 - deferred);
  }
  results.erase(results.begin(), results.begin() + static_cast<std::ptrdiff_t>(skip));
  co_return results;
}

awaitable<Result> Tx::exec(const Query& q, Params params) {
  std::vector<Statement> one;
  one.push_back(Statement{&q, std::move(params)});
  auto r = co_await send(std::move(one), false);
  co_return std::move(r.front());
}

awaitable<std::vector<Result>> Tx::exec_all(std::vector<Statement> statements) {
  co_return co_await send(std::move(statements), false);
}

awaitable<std::vector<Result>> Tx::commit(std::vector<Statement> last) {
  co_return co_await send(std::move(last), true);
}

awaitable<Result> Tx::exec_commit(const Query& q, Params params) {
  std::vector<Statement> one;
  one.push_back(Statement{&q, std::move(params)});
  auto r = co_await send(std::move(one), true);
  co_return std::move(r.front());
}

awaitable<void> Tx::replan() {
  if (!started_ || finished_) throw ApiError(ErrorCode::internal, "Internal server error", "replan outside a transaction");
  co_await conn_.command("DISCARD PLANS");
}

awaitable<void> run_transaction(Pool& pool, const TenantContext& ctx, Mode mode,
                                std::function<awaitable<void>(Tx&)> body) {
  auto lease = co_await pool.acquire();
  Tx tx(*lease, ctx, mode);
  std::exception_ptr failure;
  try {
    co_await body(tx);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // Roll back outside the catch block (no co_await there); a connection that cannot roll back is
    // dropped by the pool.
    if (tx.started() && !tx.finished() && !lease->broken() && lease->in_transaction()) {
      try {
        co_await lease->command("ROLLBACK");
      } catch (...) {
      }
    }
    std::rethrow_exception(failure);
  }
  if (!tx.finished() && (tx.started() || tx.has_deferred())) co_await tx.commit();
}

awaitable<Result> lookup_before_tenant(Pool& pool, const Query& q, Params params) {
  auto lease = co_await pool.acquire();
  std::vector<Statement> one;
  one.push_back(Statement{&q, std::move(params)});
  auto r = co_await lease->pipeline(one);
  co_return std::move(r.front());
}

awaitable<Result> read(Pool& pool, const TenantContext& ctx, const Query& q, Params params) {
  co_return co_await transact(pool, ctx, Mode::read_only,
                              [&](Tx& tx) -> awaitable<Result> { co_return co_await tx.exec_commit(q, std::move(params)); });
}

awaitable<Result> read(Pool& pool, const TenantContext& ctx, Statement statement) {
  co_return co_await transact(pool, ctx, Mode::read_only, [&](Tx& tx) -> awaitable<Result> {
    std::vector<Statement> one;
    one.push_back(std::move(statement));
    auto results = co_await tx.commit(std::move(one));
    co_return std::move(results.front());
  });
}

awaitable<void> with_retries(std::function<awaitable<void>()> attempt) {
  auto pause = std::chrono::milliseconds(100);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    std::exception_ptr failure;
    try {
      co_await attempt();
      co_return;
    } catch (const ApiError& e) {
      if (e.code() != ErrorCode::unavailable) throw;
      failure = std::current_exception();
    } catch (const SqlError& e) {
      if (to_api_error(e).code() != ErrorCode::unavailable) throw;
      failure = std::current_exception();
    }
    if (std::chrono::steady_clock::now() + pause > give_up) std::rethrow_exception(failure);
    asio::steady_timer timer(co_await asio::this_coro::executor, pause);
    co_await timer.async_wait(asio::use_awaitable);
    pause = std::min(pause * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace spectra::db
