#pragma once
// A small thread pool for blocking work (password hashing, renders, exports, scans, JWKS fetches), so
// the I/O threads only do I/O. The awaiting coroutine resumes on its own executor; exceptions
// propagate to it.
//
// The pool is fair: every job names its share (an organization, and a user or client within it).
// Workers take jobs round-robin across the organizations that wait, and within one across its users,
// and each share may hold only part of the queue: one organization's flood waits behind itself (or is
// refused with 503), never in front of another organization's work.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/error.hpp"
#include "platform/fair_queue.hpp"

namespace spectra {

class BlockingPool {
 public:
  using Share = WorkShare;

  // At most `threads` jobs run and `max_queued` more wait, an organization's at most a quarter of
  // them and one user's at most half of their organization's; beyond that run() refuses (503). The
  // workers run at `niceness` (Linux, per thread): bulk work (renders, exports) yields the processor to
  // the I/O threads and to password checks.
  explicit BlockingPool(int threads, int max_queued = 64, int niceness = 0);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs f() on the pool for `share`; f returns a default-constructible value. Not a coroutine itself
  // (GCC 12 mishandles lambdas passed by value to coroutine parameters), it returns the operation to
  // co_await. Pass f and share as named locals: GCC 12 destroys temporaries inside co_await twice. The awaiting coroutine gets ApiError 503 with Retry-After when the share's queue is full.
  template <class F>
  auto run(F f, Share share) {
    using R = decltype(f());
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(std::exception_ptr, R)>(
        [this](auto handler, F fn, Share who) {
          auto resume_on = boost::asio::get_associated_executor(handler);
          // std::function needs a copyable callable: the handler (move-only) is shared.
          auto state = std::make_shared<std::pair<decltype(handler), F>>(std::move(handler), std::move(fn));
          auto refused = [state, resume_on] {
            boost::asio::post(resume_on, [state] { std::move(state->first)(busy(), R{}); });
          };
          enqueue(who, refused, [state, resume_on] {
            std::exception_ptr error;
            R result{};
            try {
              result = state->second();
            } catch (...) {
              error = std::current_exception();
            }
            boost::asio::post(resume_on, [state, error, result = std::move(result)]() mutable {
              std::move(state->first)(error, std::move(result));
            });
          });
        },
        boost::asio::use_awaitable, std::move(f), std::move(share));
  }
  // Stops the workers; jobs still queued are dropped (with the coroutines waiting on them).
  void stop();
  int pending() const;  // queued and running
  int running() const;
  int threads() const;

 private:
  // Queues a job; when the share (or the pool) is full, calls `refused` instead.
  void enqueue(const Share& share, const std::function<void()>& refused, std::function<void()> job);
  // The 503 a refused job answers.
  static std::exception_ptr busy();
  void work();

  mutable std::mutex mu_;
  std::condition_variable wake_;
  FairQueue queue_;
  std::size_t running_ = 0;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace spectra
