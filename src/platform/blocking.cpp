#include "platform/blocking.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

namespace spectra {
namespace {

FairQueue::Limits limits_for(int max_queued) {
  const auto total = static_cast<std::size_t>(std::max(1, max_queued));
  const auto per_organization = std::max<std::size_t>(1, total / 4);
  return {total, per_organization, std::max<std::size_t>(1, per_organization / 2)};
}

}  // namespace

BlockingPool::BlockingPool(int threads, int max_queued, int niceness) : queue_(limits_for(max_queued)) {
  for (int i = 0; i < std::max(1, threads); ++i)
    threads_.emplace_back([this, niceness] {
      // Per thread on Linux; a failure (a limit on raising it) leaves the thread as it was.
      if (niceness != 0) (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), niceness);
      work();
    });
}

BlockingPool::~BlockingPool() { stop(); }

void BlockingPool::stop() {
  std::optional<FairQueue> dropped;  // destroyed outside the lock: a dropped job may end a coroutine
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    dropped.emplace(std::move(queue_));
    queue_.clear();
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

int BlockingPool::pending() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(queue_.size() + running_);
}

int BlockingPool::running() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(running_);
}

int BlockingPool::threads() const { return static_cast<int>(threads_.size()); }

std::exception_ptr BlockingPool::busy() {
  return std::make_exception_ptr(std::move(ApiError(ErrorCode::unavailable, "The server is busy with your work; try again shortly",
                                                    "blocking pool: the share's queue is full")
                                               .with_header("Retry-After", "1")));
}

void BlockingPool::enqueue(const Share& share, const std::function<void()>& refused, std::function<void()> job) {
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    queued = !stopped_ && queue_.push(share.organization, share.user, std::move(job));
  }
  if (!queued) return refused();
  wake_.notify_one();
}

void BlockingPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopped_ || queue_.size() > 0; });
      if (stopped_) return;
      job = std::move(*queue_.pop());
      ++running_;
    }
    job();
    std::lock_guard lock(mu_);
    --running_;
  }
}

}  // namespace spectra
