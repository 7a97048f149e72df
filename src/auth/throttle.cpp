#include "auth/throttle.hpp"

#include <algorithm>

namespace spectra::auth {

LoginThrottle::LoginThrottle(const Config& c)
    : max_account_(c.login_max_failures_per_account), max_address_(c.login_max_failures_per_address),
      window_(c.login_failure_window), lockout_(c.login_lockout) {}

std::optional<long> LoginThrottle::retry_after(const std::string& account, const std::string& address, Clock::time_point now) {
  std::lock_guard lk(mu_);
  long wait = 0;
  for (auto* e : {accounts_.contains(account) ? &accounts_[account] : nullptr,
                  addresses_.contains(address) ? &addresses_[address] : nullptr}) {
    if (e && e->locked_until > now)
      wait = std::max(wait, static_cast<long>(std::chrono::ceil<std::chrono::seconds>(e->locked_until - now).count()));
  }
  if (wait > 0) return wait;
  return std::nullopt;
}

void LoginThrottle::bump(std::unordered_map<std::string, Entry>& map, const std::string& key, int max, Clock::time_point now) {
  auto& e = map[key];
  if (now - e.window_start > window_) {
    e.failures = 0;
    e.window_start = now;
  }
  if (++e.failures >= max) {
    e.locked_until = now + lockout_;
    e.failures = 0;
    e.window_start = now;
  }
}

void LoginThrottle::record_failure(const std::string& account, const std::string& address, Clock::time_point now) {
  std::lock_guard lk(mu_);
  bump(accounts_, account, max_account_, now);
  bump(addresses_, address, max_address_, now);
  prune(now);
}

void LoginThrottle::record_success(const std::string& account) {
  std::lock_guard lk(mu_);
  auto it = accounts_.find(account);
  if (it != accounts_.end() && it->second.locked_until <= Clock::now()) accounts_.erase(it);
}

void LoginThrottle::prune(Clock::time_point now) {
  if (now - last_prune_ < std::chrono::seconds(60)) return;
  last_prune_ = now;
  for (auto* m : {&accounts_, &addresses_})
    std::erase_if(*m, [&](const auto& kv) { return kv.second.locked_until <= now && now - kv.second.window_start > window_; });
}

}  // namespace spectra::auth
