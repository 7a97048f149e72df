#pragma once
// A small thread pool for blocking work (password hashing, file hashing, JWKS fetches), so the I/O
// threads only do I/O. The awaiting coroutine resumes on its own executor.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

namespace spectra {

class BlockingPool {
 public:
  explicit BlockingPool(int threads) : pool_(static_cast<std::size_t>(threads)) {}
  ~BlockingPool() { pool_.join(); }

  template <class F>
  auto run(F f) -> boost::asio::awaitable<decltype(f())> {
    using R = decltype(f());
    co_return co_await boost::asio::co_spawn(
        pool_.get_executor(), [fn = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return fn(); },
        boost::asio::use_awaitable);
  }
  void stop() { pool_.stop(); }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace spectra
