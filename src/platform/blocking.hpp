#pragma once
// A small thread pool for blocking work (password hashing, file hashing, JWKS fetches), so the I/O
// threads only do I/O. The awaiting coroutine resumes on its own executor; exceptions propagate to it.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <exception>
#include <utility>

#include "platform/error.hpp"

namespace spectra {

class BlockingPool {
 public:
  // At most `threads` jobs run and `max_queued` more wait; beyond that run() refuses (503).
  explicit BlockingPool(int threads, int max_queued = 64)
      : pool_(static_cast<std::size_t>(threads)), capacity_(threads + max_queued) {}
  ~BlockingPool() { pool_.join(); }

  // Runs f() on the pool; f returns a default-constructible value. Not a coroutine itself (GCC 12
  // mishandles lambdas passed by value to coroutine parameters), it returns the operation to co_await.
  // Throws ApiError 503 with Retry-After when the queue is full: a flood of password checks must not
  // queue without bound.
  template <class F>
  auto run(F f) {
    using R = decltype(f());
    if (pending_.fetch_add(1) >= capacity_) {
      pending_.fetch_sub(1);
      throw std::move(ApiError(ErrorCode::unavailable, "The server is busy; try again shortly", "blocking pool queue full")
                          .with_header("Retry-After", "1"));
    }
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::exception_ptr, R)>(
        [this](auto handler, F fn) {
          auto resume_on = boost::asio::get_associated_executor(handler);
          boost::asio::post(pool_, [this, handler = std::move(handler), fn = std::move(fn), resume_on]() mutable {
            std::exception_ptr error;
            R result{};
            try {
              result = fn();
            } catch (...) {
              error = std::current_exception();
            }
            pending_.fetch_sub(1);
            boost::asio::post(resume_on, [handler = std::move(handler), error, result = std::move(result)]() mutable {
              std::move(handler)(error, std::move(result));
            });
          });
        },
        boost::asio::use_awaitable, std::move(f));
  }
  void stop() { pool_.stop(); }
  int pending() const noexcept { return pending_.load(); }

 private:
  boost::asio::thread_pool pool_;
  const int capacity_;
  std::atomic<int> pending_{0};
};

}  // namespace spectra
