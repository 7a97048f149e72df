#pragma once
// A small thread pool for blocking work (password hashing, file hashing, JWKS fetches), so the I/O
// threads only do I/O. The awaiting coroutine resumes on its own executor; exceptions propagate to it.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <utility>

namespace spectra {

class BlockingPool {
 public:
  explicit BlockingPool(int threads) : pool_(static_cast<std::size_t>(threads)) {}
  ~BlockingPool() { pool_.join(); }

  // Runs f() on the pool; f returns a default-constructible value. Not a coroutine itself (GCC 12
  // mishandles lambdas passed by value to coroutine parameters), it returns the operation to co_await.
  template <class F>
  auto run(F f) {
    using R = decltype(f());
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::exception_ptr, R)>(
        [this](auto handler, F fn) {
          auto resume_on = boost::asio::get_associated_executor(handler);
          boost::asio::post(pool_, [handler = std::move(handler), fn = std::move(fn), resume_on]() mutable {
            std::exception_ptr error;
            R result{};
            try {
              result = fn();
            } catch (...) {
              error = std::current_exception();
            }
            boost::asio::post(resume_on, [handler = std::move(handler), error, result = std::move(result)]() mutable {
              std::move(handler)(error, std::move(result));
            });
          });
        },
        boost::asio::use_awaitable, std::move(f));
  }
  void stop() { pool_.stop(); }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace spectra
