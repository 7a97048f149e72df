#include "auth/throttle.hpp"

#include <algorithm>

namespace spectra::auth {

LoginThrottle::LoginThrottle(const Config& c)
    : max_account_(c.login_max_failures_per_account), max_address_(c.login_max_failures_per_address),
      window_(c.login_failure_window), lockout_(c.login_lockout) {}

std::optional<long> LoginThrottle::wait_for(const Entry& e, int max, bool count_in_flight, Clock::time_point now) const {
  if (e.locked_until > now)
    return static_cast<long>(std::chrono::ceil<std::chrono::seconds>(e.locked_until - now).count());
  const int failures = now - e.window_start > window_ ? 0 : e.failures;
  // Attempts in flight may still fail: for one account they count, so parallel guesses cannot exceed
  // the limit. Per address they do not, or one office behind NAT could not log in all at once.
  if (failures + (count_in_flight ? e.in_flight : 0) >= max) return 1;
  return std::nullopt;
}

std::optional<long> LoginThrottle::begin(const std::string& account, const std::string& address, Clock::time_point now) {
  std::lock_guard lk(mu_);
  prune(now);
  auto& acc = accounts_[account];
  auto& addr = addresses_[address];
  auto a = wait_for(acc, max_account_, true, now);
  auto b = wait_for(addr, max_address_, false, now);
  if (a || b) return std::max(a.value_or(0), b.value_or(0));
  ++acc.in_flight;
  ++addr.in_flight;
  return std::nullopt;
}

void LoginThrottle::end(std::unordered_map<std::string, Entry>& map, const std::string& key, int max, Outcome o,
                        Clock::time_point now) {
  auto& e = map[key];
  e.in_flight = std::max(0, e.in_flight - 1);
  if (o != Outcome::failure) return;
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

void LoginThrottle::finish(const std::string& account, const std::string& address, Outcome o, Clock::time_point now) {
  std::lock_guard lk(mu_);
  end(accounts_, account, max_account_, o, now);
  end(addresses_, address, max_address_, o, now);
  if (o == Outcome::success) {
    auto& acc = accounts_[account];
    if (acc.locked_until <= now) acc.failures = 0;
  }
}

void LoginThrottle::prune(Clock::time_point now) {
  if (now - last_prune_ < std::chrono::seconds(60)) return;
  last_prune_ = now;
  for (auto* m : {&accounts_, &addresses_})
    std::erase_if(*m, [&](const auto& kv) {
      return kv.second.in_flight == 0 && kv.second.locked_until <= now && now - kv.second.window_start > window_;
    });
}

}  // namespace spectra::auth
