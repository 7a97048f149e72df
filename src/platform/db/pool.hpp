#pragma once
// An asynchronous libpq connection pool. Each connection runs in pipeline mode under Asio: a request's
// statements (BEGIN, tenant context, queries, COMMIT) go to PostgreSQL with one Sync, in one round trip.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "platform/db/result.hpp"

namespace spectra::db {

class Connection;

struct PoolOptions {
  std::string conninfo;    // libpq URI or key=value string
  std::string user;        // overrides the user of conninfo when set
  std::size_t max_size = 16;
  std::chrono::milliseconds acquire_timeout{3000};
  std::chrono::milliseconds statement_timeout{15000};
  std::chrono::milliseconds tcp_user_timeout{30000};  // data unacknowledged this long: the peer is gone
  // A pipeline still unanswered this long is cancelled and its connection dropped (503); a little
  // beyond statement_timeout, which the server enforces first.
  std::chrono::milliseconds query_deadline{20000};
  std::string application_name = "spectra";
};

class Pool;

// A connection borrowed from the pool; returns it (or drops it when broken) on destruction.
class Lease {
 public:
  Lease() = default;
  Lease(Pool* pool, std::unique_ptr<Connection> c);
  Lease(Lease&&) noexcept;
  Lease& operator=(Lease&&) noexcept;
  ~Lease();
  Connection& operator*() const { return *conn_; }
  Connection* operator->() const { return conn_.get(); }

 private:
  Pool* pool_ = nullptr;
  std::unique_ptr<Connection> conn_;
};

class Pool {
 public:
  Pool(boost::asio::any_io_executor ex, PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Waits up to acquire_timeout for a connection; 503 when none can be had.
  boost::asio::awaitable<Lease> acquire();
  // One round trip: "SELECT 1" on a pooled connection.
  boost::asio::awaitable<void> ping();
  // Closes idle connections; used after a connection broke (the others likely did too).
  void close_idle();
  // Shutdown: closes idle connections, and connections returned later are closed at once.
  void close();

  struct Stats {
    std::size_t size = 0, open = 0, idle = 0, waiting = 0;
    // Since start: acquisitions that waited for a connection, their total wait, and those that gave up
    // (503) after acquire_timeout.
    std::uint64_t waited = 0, exhausted = 0;
    double wait_seconds = 0;
  };
  Stats stats() const;
  boost::asio::any_io_executor executor() const { return ex_; }

 private:
  friend class Lease;
  struct Waiter;
  void release(std::unique_ptr<Connection> c);

  boost::asio::any_io_executor ex_;
  PoolOptions opt_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
  std::size_t open_ = 0;
  bool closed_ = false;
  std::uint64_t waited_ = 0, exhausted_ = 0;
  double wait_seconds_ = 0;
};

// Pipelines of this process cancelled at their query deadline (every pool), since start.
std::uint64_t deadlines_passed() noexcept;

// One connection, used by one coroutine at a time.
class Connection {
 public:
  static boost::asio::awaitable<std::unique_ptr<Connection>> open(boost::asio::any_io_executor ex,
                                                                  const PoolOptions& opt);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends every statement and one Sync, then reads every result. Throws SqlError for the first
  // statement PostgreSQL refused (the rest of the pipeline is skipped by the server), ApiError 503
  // when the connection is lost.
  boost::asio::awaitable<std::vector<Result>> pipeline(std::span<const Statement> statements);
  // Plain text command (BEGIN, COMMIT, ROLLBACK) in its own round trip.
  boost::asio::awaitable<void> command(const char* sql);

  bool broken() const noexcept;
  bool in_transaction() const noexcept;

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spectra::db
