#pragma once
// Failed-login throttling per account and per client (an IPv4 address or an IPv6 /64), in memory per
// server process: after `max` failures within the window, further attempts are refused (429 with
// Retry-After) until the lockout has passed. Attempts still being checked count too, so a burst of
// parallel guesses cannot slip past the limit while the password hashes are computed. Each map is
// bounded (the oldest entries go first) and pruned a few entries per attempt, never in one pass under
// the lock. With several servers behind a load balancer each keeps its own counts.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <deque>
#include <unordered_map>

#include "platform/config.hpp"

namespace spectra::auth {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(const Config& config);

  // Reserves an attempt for this account and address; nullopt when it may proceed, else the seconds
  // to wait. Every reserved attempt ends with exactly one finish().
  std::optional<long> begin(const std::string& account, const std::string& address, Clock::time_point now = Clock::now());
  enum class Outcome { success, failure, abandoned };
  void finish(const std::string& account, const std::string& address, Outcome outcome, Clock::time_point now = Clock::now());

  // Ends a reserved attempt as abandoned unless finished explicitly (an exception left the handler).
  class Attempt {
   public:
    Attempt(LoginThrottle& t, std::string account, std::string address)
        : t_(t), account_(std::move(account)), address_(std::move(address)) {}
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;
    ~Attempt() {
      if (!done_) t_.finish(account_, address_, Outcome::abandoned);
    }
    void succeeded() { end(Outcome::success); }
    void failed() { end(Outcome::failure); }

   private:
    void end(Outcome o) {
      if (!done_) t_.finish(account_, address_, o);
      done_ = true;
    }
    LoginThrottle& t_;
    std::string account_, address_;
    bool done_ = false;
  };

 private:
  struct Entry {
    int failures = 0;
    int in_flight = 0;
    Clock::time_point window_start{};
    Clock::time_point locked_until{};
  };
  std::optional<long> wait_for(const Entry& e, int max, bool count_in_flight, Clock::time_point now) const;
  // One bounded map with its keys in arrival order, for incremental pruning and eviction.
  struct Table {
    std::unordered_map<std::string, Entry> entries;
    std::deque<std::string> order;
    Entry& get(const std::string& key, std::size_t cap);
    void prune_some(Clock::time_point now, std::chrono::seconds window);
  };
  void end(Table& table, const std::string& key, int max, Outcome o, Clock::time_point now);

  std::mutex mu_;
  Table accounts_, addresses_;
  int max_account_, max_address_;
  std::size_t max_entries_;
  std::chrono::seconds window_, lockout_;

 public:
  std::size_t tracked() const { return accounts_.entries.size() + addresses_.entries.size(); }
};

}  // namespace spectra::auth
