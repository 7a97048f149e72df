#pragma once
// Failed-login throttling per account and per client address, in memory per server process: after
// `max` failures within the window, further attempts are refused (429 with Retry-After) until the
// lockout has passed. With several servers behind a load balancer each keeps its own counts.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "platform/config.hpp"

namespace spectra::auth {

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(const Config& config);
  // Seconds to wait when this account or address is locked out now; nullopt when it may try.
  std::optional<long> retry_after(const std::string& account, const std::string& address, Clock::time_point now = Clock::now());
  void record_failure(const std::string& account, const std::string& address, Clock::time_point now = Clock::now());
  void record_success(const std::string& account);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point window_start{};
    Clock::time_point locked_until{};
  };
  void bump(std::unordered_map<std::string, Entry>& map, const std::string& key, int max, Clock::time_point now);
  void prune(Clock::time_point now);

  std::mutex mu_;
  std::unordered_map<std::string, Entry> accounts_, addresses_;
  int max_account_, max_address_;
  std::chrono::seconds window_, lockout_;
  Clock::time_point last_prune_{};
};

}  // namespace spectra::auth
