// The connection pool: a bounded number of connections, waiters served in turn, 503 when exhausted,
// one round trip for a tenant read.
#include <gtest/gtest.h>

#include <array>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "platform/db/pool.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/db/tx.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace asio = boost::asio;

namespace {

db::PoolOptions options(std::size_t size, std::chrono::milliseconds timeout) {
  db::PoolOptions o;
  o.conninfo = Harness::get().app_dsn();
  o.max_size = size;
  o.acquire_timeout = timeout;
  return o;
}

template <class F>
auto run(asio::io_context& ioc, F f) {
  auto fut = asio::co_spawn(ioc, std::move(f), asio::use_future);
  ioc.run();
  ioc.restart();
  return fut.get();
}

}  // namespace

TEST(Pool, AWaiterGetsTheConnectionReleasedByAnother) {
  asio::io_context ioc;
  db::Pool pool(ioc.get_executor(), options(1, std::chrono::milliseconds(2000)));
  auto order = run(ioc, [&]() -> asio::awaitable<std::string> {
    std::string log;
    auto first = std::make_unique<db::Lease>(co_await pool.acquire());
    auto ex = co_await asio::this_coro::executor;
    auto waiter = asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          auto second = co_await pool.acquire();
          log += "second;";
        },
        asio::use_awaitable);
    asio::steady_timer t(ex, std::chrono::milliseconds(50));
    co_await t.async_wait(asio::use_awaitable);
    log += "release;";
    const auto released = std::chrono::steady_clock::now();
    first.reset();
    co_await std::move(waiter);
    // Handed over at once, not after the waiter's 2 s timeout.
    EXPECT_LT(std::chrono::steady_clock::now() - released, std::chrono::milliseconds(500));
    co_return log;
  });
  EXPECT_EQ(order, "release;second;");
  EXPECT_EQ(pool.stats().open, 1u);
}

TEST(Pool, ExhaustionAnswers503AfterTheTimeout) {
  asio::io_context ioc;
  db::Pool pool(ioc.get_executor(), options(1, std::chrono::milliseconds(100)));
  auto code = run(ioc, [&]() -> asio::awaitable<int> {
    auto held = co_await pool.acquire();
    const auto started = std::chrono::steady_clock::now();
    try {
      auto never = co_await pool.acquire();
    } catch (const ApiError& e) {
      EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(90));
      co_return static_cast<int>(http_status(e.code()));
    }
    co_return 0;
  });
  EXPECT_EQ(code, 503);
  EXPECT_EQ(pool.stats().waiting, 0u);
}

TEST(Pool, AFailedStatementRollsBackAndTheConnectionIsReused) {
  auto org = make_org();
  asio::io_context ioc;
  db::Pool pool(ioc.get_executor(), options(1, std::chrono::milliseconds(1000)));
  static const db::Query bad{"test_pool_bad", "SELECT count(*) / 0 FROM users WHERE organization_id = $1"};
  static const db::Query rename{"test_pool_rename",
                                    "UPDATE users SET full_name = 'changed' WHERE organization_id = $1"};
  static const db::Query count{"test_pool_count", "SELECT count(*) FROM users WHERE organization_id = $1"};
  db::TenantContext ctx{org.id, {}, {}};
  auto visible = run(ioc, [&]() -> asio::awaitable<std::int64_t> {
    try {
      co_await db::transact(pool, ctx, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<int> {
        co_await tx.exec(rename);
        co_await tx.exec(bad);
        co_return 0;
      });
      ADD_FAILURE() << "division by zero succeeded";
    } catch (const db::SqlError& e) {
      EXPECT_EQ(e.sqlstate(), "22012");
    }
    auto r = co_await db::read(pool, ctx, count);
    co_return r.get_int(0, 0);
  });
  EXPECT_EQ(visible, 5);  // the tenant context applies: only this organization's five users
  EXPECT_EQ(pool.stats().open, 1u);
  EXPECT_EQ(owner().exec("SELECT count(*) FROM users WHERE organization_id = $1 AND full_name = 'changed'",
                         db::Params(org.id)).get_int(0, 0), 0);
}

TEST(Pool, OneQueryTwiceInOnePipelineIsPreparedOnce) {
  auto org = make_org();
  asio::io_context ioc;
  db::Pool pool(ioc.get_executor(), options(1, std::chrono::milliseconds(1000)));
  static const db::Query by_role{"test_pool_by_role", "SELECT count(*) FROM users WHERE organization_id = $1 AND role = $2"};
  db::TenantContext ctx{org.id, {}, {}};
  auto counts = run(ioc, [&]() -> asio::awaitable<std::vector<std::int64_t>> {
    co_return co_await db::transact(pool, ctx, db::Mode::read_only, [&](db::Tx& tx) -> asio::awaitable<std::vector<std::int64_t>> {
      std::vector<db::Statement> st;
      st.push_back({&by_role, db::Params("admin")});
      st.push_back({&by_role, db::Params("viewer")});
      auto r = co_await tx.commit(std::move(st));
      co_return std::vector<std::int64_t>{r[0].get_int(0, 0), r[1].get_int(0, 0)};
    });
  });
  EXPECT_EQ(counts, (std::vector<std::int64_t>{1, 1}));
}

TEST(Pool, AQueryPastItsDeadlineIsCancelledAndItsConnectionDropped) {
  auto org = make_org();
  asio::io_context ioc;
  auto o = options(1, std::chrono::milliseconds(1000));
  o.statement_timeout = std::chrono::seconds(60);  // the server would wait; the client does not
  o.query_deadline = std::chrono::milliseconds(300);
  db::Pool pool(ioc.get_executor(), o);
  static const db::Query slow{"test_pool_slow", "SELECT pg_sleep(5) FROM organizations WHERE id = $1"};
  db::TenantContext ctx{org.id, {}, {}};
  const auto started = std::chrono::steady_clock::now();
  auto outcome = run(ioc, [&]() -> asio::awaitable<std::string> {
    try {
      co_await db::read(pool, ctx, slow);
      co_return "answered";
    } catch (const ApiError& e) {
      co_return e.code() == ErrorCode::unavailable ? "unavailable" : "other error";
    }
  });
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(outcome, "unavailable");
  EXPECT_LT(waited, std::chrono::seconds(3));
  EXPECT_EQ(pool.stats().open, 0u);  // dropped, not returned
  // The server stops the query too (cancelled, not left running for its 5 seconds).
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    gone = owner().exec("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(5)%' AND state = 'active'")
               .get_int(0, 0) == 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone);
}

TEST(Pool, ADirtyConnectionIsDroppedAloneAndTheIdleOnesStay) {
  auto org = make_org();
  asio::io_context ioc;
  db::Pool pool(ioc.get_executor(), options(3, std::chrono::milliseconds(1000)));
  static const db::Query one{"test_pool_one", "SELECT count(*) FROM organizations WHERE id = $1"};
  db::TenantContext ctx{org.id, {}, {}};
  run(ioc, [&]() -> asio::awaitable<int> {
    // Two connections opened and returned idle.
    auto a = co_await pool.acquire();
    auto b = co_await pool.acquire();
    co_return 0;
  });
  ASSERT_EQ(pool.stats().idle, 2u);
  run(ioc, [&]() -> asio::awaitable<int> {
    auto lease = co_await pool.acquire();
    co_await lease->command("BEGIN");  // returned inside a transaction: dirty
    co_return 0;
  });
  EXPECT_EQ(pool.stats().idle, 1u);  // the dirty one went; the other idle one is still there
  EXPECT_EQ(pool.stats().open, 1u);
  auto r = run(ioc, [&]() -> asio::awaitable<std::int64_t> { co_return (co_await db::read(pool, ctx, one)).get_int(0, 0); });
  EXPECT_EQ(r, 1);
}

TEST(Pool, ReplanMakesForeignKeyChecksSeeTheRowsATransactionInserted) {
  // A session keeps its plan of each foreign-key check; planned while the referenced table was one
  // page, the check is a sequential scan, and then reads every row the transaction inserted since, at
  // each row it checks. Measured by the transaction's own scan counters (pg_stat_xact_user_tables).
  auto org = make_org();
  auto& c = owner();
  c.exec("DROP TABLE IF EXISTS test_replan_child, test_replan_parent");
  c.exec("CREATE TABLE test_replan_parent (organization_id uuid, id int, PRIMARY KEY (organization_id, id))");
  c.exec("CREATE TABLE test_replan_child (organization_id uuid, id uuid NOT NULL DEFAULT gen_random_uuid(),"
         " parent_id int, PRIMARY KEY (organization_id, id))");
  c.exec("SELECT app.distribute_tenant_table('test_replan_parent')");  // (on Citus; nothing on one server)
  c.exec("SELECT app.distribute_tenant_table('test_replan_child')");
  c.exec("ALTER TABLE test_replan_child ADD FOREIGN KEY (organization_id, parent_id)"
         " REFERENCES test_replan_parent (organization_id, id)");
  c.exec("GRANT SELECT, INSERT ON test_replan_parent, test_replan_child TO spectra_app");
  c.exec("INSERT INTO test_replan_parent SELECT $1::uuid, g FROM generate_series(1, 20) g", db::Params(org.id));
  c.exec("ANALYZE test_replan_parent");
  static const db::Query parents{"test_replan_parents",
                                 "INSERT INTO test_replan_parent SELECT $1::uuid, g FROM generate_series($2::int, $3::int) g"};
  static const db::Query children{"test_replan_children",
                                  "INSERT INTO test_replan_child (organization_id, parent_id) SELECT $1::uuid, g FROM generate_series($2::int, $3::int) g"};
  static const db::Query scanned{"test_replan_scanned",
                                 "SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_xact_user_tables"
                                 " WHERE relname = 'test_replan_parent' AND $1::uuid IS NOT NULL"};
  asio::io_context ioc;
  db::Pool pool(ioc.get_executor(), options(1, std::chrono::milliseconds(5000)));
  db::TenantContext ctx{org.id, {}, {}};
  auto read = run(ioc, [&]() -> asio::awaitable<std::array<std::int64_t, 2>> {
    // The checks are planned while the parents are one page (a row at a time: past five, a generic plan).
    co_await db::transact(pool, ctx, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<void> {
      for (int i = 1; i <= 10; ++i) co_await tx.exec(children, db::Params(i, i));
    });
    co_return co_await db::transact(pool, ctx, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<std::array<std::int64_t, 2>> {
      co_await tx.exec(parents, db::Params(21, 20000));
      co_await tx.exec(children, db::Params(19901, 20000));
      const auto before = (co_await tx.exec(scanned)).get_int(0, 0);
      co_await tx.replan();
      co_await tx.exec(children, db::Params(19801, 19900));
      const auto after = (co_await tx.exec(scanned)).get_int(0, 0);
      co_return std::array<std::int64_t, 2>{before, after - before};
    });
  });
  // Before: the cached plan scanned the parents at each of the 100 rows (Citus's database plans each
  // statement for its values, so its checks never keep a plan from when the table was small).
  if (!Harness::get().citus()) {
    EXPECT_GT(read[0], 100 * 10000) << "the checks' plan was not a sequential scan";
  }
  EXPECT_EQ(read[1], 0) << "after replan the 100 checks still scan the parents";
  EXPECT_EQ(owner().exec("SELECT count(*) FROM test_replan_child WHERE organization_id = $1", db::Params(org.id)).get_int(0, 0),
            210);
}
