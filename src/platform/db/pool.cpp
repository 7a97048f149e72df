#include "platform/db/pool.hpp"

#include <atomic>

#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <thread>
#include <unordered_set>

#include "platform/db/sql_error.hpp"
#include "platform/error.hpp"

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace spectra::db {

namespace {
std::atomic<std::uint64_t> deadlines{0};
}  // namespace

std::uint64_t deadlines_passed() noexcept { return deadlines.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------- Connection

struct Connection::Impl {
  PGconn* pg = nullptr;
  asio::posix::stream_descriptor sock;
  asio::steady_timer deadline;  // of the pipeline in flight
  std::chrono::milliseconds query_deadline;
  std::unordered_set<std::string_view> prepared;  // names point at static Query strings
  bool broken = false;

  Impl(asio::any_io_executor ex, PGconn* c, std::chrono::milliseconds limit)
      : pg(c), sock(ex, PQsocket(c)), deadline(ex), query_deadline(limit) {}
  ~Impl() {
    // libpq owns the socket: release it from Asio so that it is closed once, by PQfinish.
    sock.release();
    PQfinish(pg);
  }

  [[noreturn]] void fail(const char* what) {
    broken = true;
    std::string msg = PQerrorMessage(pg);
    throw unavailable("The database is unavailable", std::string(what) + ": " + msg);
  }

  // Waits for the socket, but never past the pipeline's deadline: a server or network that stops
  // answering must not hold a request (and a pool connection) forever. Past it, the query is
  // cancelled, the connection dropped, and the request answered 503.
  awaitable<void> wait(asio::posix::descriptor_base::wait_type type) {
    using namespace asio::experimental::awaitable_operators;
    boost::system::error_code ec, timer_ec;
    auto which = co_await (sock.async_wait(type, asio::redirect_error(use_awaitable, ec)) ||
                           deadline.async_wait(asio::redirect_error(use_awaitable, timer_ec)));
    if (which.index() == 1 && !timer_ec) {
      deadlines.fetch_add(1, std::memory_order_relaxed);
      cancel_in_background();
      fail("query deadline passed");
    }
    if (ec) fail("wait on socket failed");
  }

  // PQcancel opens a connection of its own and blocks: it runs on a short-lived thread of its own.
  void cancel_in_background() {
    PGcancel* cancel = PQgetCancel(pg);
    if (!cancel) return;
    std::thread([cancel] {
      char err[256];
      PQcancel(cancel, err, sizeof err);
      PQfreeCancel(cancel);
    }).detach();
  }

  awaitable<void> flush() {
    for (;;) {
      const int r = PQflush(pg);
      if (r == 0) co_return;
      if (r < 0) fail("flush failed");
      // Wait until we can write more or the server sent something (a large pipeline can fill both
      // directions: reading its results unblocks it).
      using namespace asio::experimental::awaitable_operators;
      boost::system::error_code ec_w, ec_r;
      co_await (sock.async_wait(asio::posix::descriptor_base::wait_write, asio::redirect_error(use_awaitable, ec_w)) ||
                sock.async_wait(asio::posix::descriptor_base::wait_read, asio::redirect_error(use_awaitable, ec_r)));
      if (!PQconsumeInput(pg)) fail("read failed");
    }
  }

  awaitable<PGresult*> next_result() {
    while (PQisBusy(pg)) {
      co_await wait(asio::posix::descriptor_base::wait_read);
      if (!PQconsumeInput(pg)) fail("read failed");
    }
    co_return PQgetResult(pg);
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

bool Connection::broken() const noexcept { return impl_->broken || PQstatus(impl_->pg) != CONNECTION_OK; }
bool Connection::in_transaction() const noexcept {
  return PQtransactionStatus(impl_->pg) != PQTRANS_IDLE;
}

namespace {

// The host name of a conninfo that libpq would resolve itself (blocking the calling thread):
// nothing for unix sockets, IP literals, several hosts, or an explicit hostaddr.
std::string host_to_resolve(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return {};
  std::string host, hostaddr;
  for (auto* o = opts; o->keyword; ++o) {
    if (!o->val) continue;
    if (std::string_view(o->keyword) == "host") host = o->val;
    if (std::string_view(o->keyword) == "hostaddr") hostaddr = o->val;
  }
  PQconninfoFree(opts);
  if (host.empty() || !hostaddr.empty() || host.front() == '/' || host.front() == '@' ||
      host.find(',') != std::string::npos)
    return {};
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return ec ? host : std::string();
}

}  // namespace

awaitable<std::unique_ptr<Connection>> Connection::open(asio::any_io_executor ex, const PoolOptions& opt) {
  using namespace asio::experimental::awaitable_operators;
  // libpq resolves host names synchronously: resolve here instead (Asio's resolver runs getaddrinfo
  // on a thread of its own, never on an I/O thread), and hand libpq the address.
  std::string hostaddr;
  if (const auto host = host_to_resolve(opt.conninfo); !host.empty()) {
    asio::ip::tcp::resolver resolver(ex);
    boost::system::error_code ec;
    auto found = co_await resolver.async_resolve(host, "", asio::redirect_error(use_awaitable, ec));
    if (ec || found.empty()) throw unavailable("The database is unavailable", "cannot resolve " + host + ": " + ec.message());
    hostaddr = found.begin()->endpoint().address().to_string();
  }
  // UTC and ISO dates: the text the API server writes as JSON times (db::RowJson).
  const std::string options =
      "-c TimeZone=UTC -c DateStyle=ISO -c statement_timeout=" + std::to_string(opt.statement_timeout.count());
  // A peer that vanishes (a dead host, a dropped route) is noticed within seconds, not at the kernel's
  // two-hour default: keepalives for an idle connection, tcp_user_timeout for unacknowledged data.
  const std::string user_timeout = std::to_string(opt.tcp_user_timeout.count());
  std::vector<const char*> keys{"dbname",          "application_name",    "options",          "client_encoding",
                                "keepalives",      "keepalives_idle",     "keepalives_interval", "keepalives_count",
                                "tcp_user_timeout"};
  std::vector<const char*> vals{opt.conninfo.c_str(), opt.application_name.c_str(), options.c_str(), "UTF8", "1", "30",
                                "10",                 "3",                            user_timeout.c_str()};
  if (!opt.user.empty()) {
    keys.push_back("user");
    vals.push_back(opt.user.c_str());
  }
  if (!hostaddr.empty()) {
    keys.push_back("hostaddr");
    vals.push_back(hostaddr.c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);

  PGconn* pg = PQconnectStartParams(keys.data(), vals.data(), 1);
  if (!pg) throw unavailable("The database is unavailable", "out of memory starting a connection");
  std::unique_ptr<PGconn, decltype(&PQfinish)> guard(pg, PQfinish);
  if (PQstatus(pg) == CONNECTION_BAD)
    throw unavailable("The database is unavailable", std::string("connect: ") + PQerrorMessage(pg));

  // Opening a connection never outlasts the time a request would wait for one.
  asio::steady_timer deadline(ex);
  deadline.expires_after(std::min<std::chrono::milliseconds>(std::chrono::seconds(5), opt.acquire_timeout));
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED)
      throw unavailable("The database is unavailable", std::string("connect: ") + PQerrorMessage(pg));
    // The socket may change while libpq tries addresses, so wrap the current one for each wait.
    asio::posix::stream_descriptor sd(ex, PQsocket(pg));
    struct Release {
      asio::posix::stream_descriptor& s;
      ~Release() { s.release(); }
    } release{sd};
    auto type = st == PGRES_POLLING_READING ? asio::posix::descriptor_base::wait_read
                                            : asio::posix::descriptor_base::wait_write;
    auto which = co_await (sd.async_wait(type, use_awaitable) || deadline.async_wait(use_awaitable));
    if (which.index() == 1) throw unavailable("The database is unavailable", "connect: timed out");
    st = PQconnectPoll(pg);
  }
  if (PQsetnonblocking(pg, 1) != 0 || PQenterPipelineMode(pg) != 1)
    throw unavailable("The database is unavailable", "cannot enter pipeline mode");
  auto impl = std::make_unique<Impl>(ex, guard.release(), opt.query_deadline);
  co_return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

awaitable<std::vector<Result>> Connection::pipeline(std::span<const Statement> statements) {
  Impl& c = *impl_;
  if (c.broken) c.fail("connection is broken");
  c.deadline.expires_after(c.query_deadline);
  const auto started = std::chrono::steady_clock::now();
  // What each result we will read belongs to: a prepare (its name) or a statement (empty).
  std::vector<std::string_view> expected;
  expected.reserve(statements.size() * 2);
  std::vector<std::string_view> preparing;  // a query used twice in one pipeline is prepared once
  for (const auto& s : statements) {
    std::vector<const char*> values;
    values.reserve(s.params.size());
    for (const auto& v : s.params.values()) values.push_back(v ? v->c_str() : nullptr);
    const int n = static_cast<int>(values.size());
    int ok = 0;
    if (s.query) {
      const std::string& name = s.query->name;
      if (!c.prepared.contains(name) && std::find(preparing.begin(), preparing.end(), name) == preparing.end()) {
        preparing.push_back(name);
        if (!PQsendPrepare(c.pg, name.c_str(), s.query->sql.c_str(), 0, nullptr)) c.fail("send prepare failed");
        expected.push_back(name);
      }
      ok = PQsendQueryPrepared(c.pg, name.c_str(), n, values.data(), nullptr, nullptr, 0);
    } else {
      ok = PQsendQueryParams(c.pg, s.text, n, nullptr, values.data(), nullptr, nullptr, 0);
    }
    if (!ok) c.fail("send query failed");
    expected.push_back({});
  }
  if (!PQpipelineSync(c.pg)) c.fail("pipeline sync failed");
  co_await c.flush();

  std::vector<Result> results;
  results.reserve(statements.size());
  std::optional<SqlError> first_error;
  for (auto prepare_name : expected) {
    PGresult* r = co_await c.next_result();
    if (!r) c.fail("missing result");
    Result owned(r);
    const auto st = PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR && !first_error) first_error = SqlError::from_result(r);
    if (!prepare_name.empty()) {
      if (st == PGRES_COMMAND_OK) c.prepared.insert(prepare_name);
    } else {
      results.push_back(std::move(owned));
    }
    // Each command's results end with a null result.
    while (PGresult* extra = co_await c.next_result()) PQclear(extra);
  }
  for (;;) {
    PGresult* r = co_await c.next_result();
    if (!r) continue;
    const auto st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_PIPELINE_SYNC) break;
  }
  if (PQstatus(c.pg) != CONNECTION_OK) c.fail("connection lost");
  // A round trip past a quarter of its deadline is worth an operator's look (a lock wait, a stalled disk).
  if (const auto took = std::chrono::steady_clock::now() - started; took > c.query_deadline / 4) {
    const auto first = std::find_if(statements.begin(), statements.end(), [](const Statement& s) { return s.query; });
    spdlog::warn("a database round trip of {} statements (the first {}) took {} ms", statements.size(),
                 first != statements.end() ? first->query->name : std::string("a command"),
                 std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
  }
  if (first_error) {
    const auto& s = first_error->sqlstate();
    if (s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03") c.broken = true;
    throw *first_error;
  }
  co_return results;
}

awaitable<void> Connection::command(const char* sql) {
  Statement s;
  s.text = sql;
  co_await pipeline(std::span<const Statement>(&s, 1));
}

// ---------------------------------------------------------------- Pool

struct Pool::Waiter {
  explicit Waiter(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  std::unique_ptr<Connection> conn;
  bool may_open = false;  // a slot freed up: the waiter opens a connection itself
};

Lease::Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), conn_(std::move(c)) {}
Lease::Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::move(o.conn_)) { o.pool_ = nullptr; }
Lease& Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    if (pool_ && conn_) pool_->release(std::move(conn_));
    pool_ = o.pool_;
    conn_ = std::move(o.conn_);
    o.pool_ = nullptr;
  }
  return *this;
}
Lease::~Lease() {
  if (pool_ && conn_) pool_->release(std::move(conn_));
}

Pool::Pool(asio::any_io_executor ex, PoolOptions options) : ex_(std::move(ex)), opt_(std::move(options)) {}
Pool::~Pool() = default;

awaitable<Lease> Pool::acquire() {
  bool open_new = false;
  {
    std::lock_guard lk(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      co_return Lease(this, std::move(c));
    }
    if (open_ < opt_.max_size) {
      ++open_;
      open_new = true;
    }
  }
  if (!open_new) {
    const auto since = std::chrono::steady_clock::now();
    auto w = std::make_shared<Waiter>(co_await asio::this_coro::executor);
    w->timer.expires_after(opt_.acquire_timeout);
    {
      std::lock_guard lk(mu_);
      waiters_.push_back(w);
    }
    boost::system::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(use_awaitable, ec));
    std::lock_guard lk(mu_);
    ++waited_;
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
    if (w->conn) co_return Lease(this, std::move(w->conn));
    if (!w->may_open) {
      ++exhausted_;
      std::erase(waiters_, w);
      throw unavailable("The server is busy; try again", "connection pool exhausted");
    }
    // The slot was counted for us by the releaser.
  }
  try {
    auto c = co_await Connection::open(ex_, opt_);
    co_return Lease(this, std::move(c));
  } catch (...) {
    std::lock_guard lk(mu_);
    --open_;
    throw;
  }
}

void Pool::release(std::unique_ptr<Connection> c) {
  std::unique_ptr<Connection> drop;
  std::vector<std::unique_ptr<Connection>> stale;
  bool broke = false;
  {
    std::lock_guard lk(mu_);
    // A connection left inside a transaction is dropped on its own; only a broken one suggests the
    // idle ones broke too.
    const bool dirty = c->in_transaction();
    broke = c->broken();
    if (!broke && !dirty && !closed_) {
      if (waiters_.empty()) {
        idle_.push_back(std::move(c));
      } else {
        auto w = waiters_.front();
        waiters_.pop_front();
        w->conn = std::move(c);
        asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
      }
      return;
    }
    drop = std::move(c);
    --open_;
    if (broke) {
      // When one connection broke, the idle ones most likely did too (a PostgreSQL restart).
      stale.swap(idle_);
      open_ -= stale.size();
    }
    // Freed slots pass to waiters, who open connections of their own.
    while (!closed_ && !waiters_.empty() && open_ < opt_.max_size) {
      auto w = waiters_.front();
      waiters_.pop_front();
      ++open_;
      w->may_open = true;
      asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
    }
  }
  if (broke) spdlog::warn("database connection dropped after an error; {} idle connections closed", stale.size());
}

void Pool::close_idle() {
  std::vector<std::unique_ptr<Connection>> closing;
  std::lock_guard lk(mu_);
  closing.swap(idle_);
  open_ -= closing.size();
}

void Pool::close() {
  std::vector<std::unique_ptr<Connection>> closing;
  std::deque<std::shared_ptr<Waiter>> waiting;
  std::lock_guard lk(mu_);
  closed_ = true;
  closing.swap(idle_);
  open_ -= closing.size();
  // Waiters belong to coroutines that are destroyed with the I/O context: drop our references so
  // their timers go with them.
  waiting.swap(waiters_);
}

Pool::Stats Pool::stats() const {
  std::lock_guard lk(mu_);
  return {opt_.max_size, open_, idle_.size(), waiters_.size(), waited_, exhausted_, wait_seconds_};
}

namespace {
const Query ping_q{"platform_ping", "SELECT 1"};
}  // namespace

awaitable<void> Pool::ping() {
  const Query& q = ping_q;
  auto lease = co_await acquire();
  Statement s{&q, {}};
  co_await lease->pipeline(std::span<const Statement>(&s, 1));
}

}  // namespace spectra::db
