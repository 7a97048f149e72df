#include "auth/throttle.hpp"

#include <algorithm>

#include "platform/http/message.hpp"

namespace spectra::auth {

LoginThrottle::LoginThrottle(const Config& c)
    : max_account_(c.login_max_failures_per_account), max_address_(c.login_max_failures_per_address),
      max_entries_(c.login_throttle_max_entries), window_(c.login_failure_window), lockout_(c.login_lockout) {}

LoginThrottle::Entry& LoginThrottle::Table::get(const std::string& key, std::size_t cap) {
  auto [it, inserted] = entries.try_emplace(key);
  if (inserted) {
    order.push_back(key);
    // Full: an idle entry makes room (a lockout or an attempt in flight is kept while another can
    // go), else the oldest. An attacker with many addresses cannot grow the map.
    for (int looked = 0; entries.size() > cap && !order.empty() && looked < 64; ++looked) {
      std::string oldest = std::move(order.front());
      order.pop_front();
      auto victim = entries.find(oldest);
      if (victim == entries.end()) continue;
      const bool busy = victim->second.in_flight > 0 || victim->second.locked_until > Clock::now();
      if (oldest == key || (busy && looked < 16)) {
        order.push_back(std::move(oldest));
        continue;
      }
      entries.erase(victim);
    }
  }
  return entries[key];
}

void LoginThrottle::Table::prune_some(Clock::time_point now, std::chrono::seconds window) {
  // A few entries per attempt: the cost is constant however large the map is.
  for (int i = 0; i < 4 && !order.empty(); ++i) {
    std::string key = std::move(order.front());
    order.pop_front();
    auto it = entries.find(key);
    if (it == entries.end()) continue;
    const auto& e = it->second;
    if (e.in_flight == 0 && e.locked_until <= now && now - e.window_start > window)
      entries.erase(it);
    else
      order.push_back(std::move(key));
  }
}

std::optional<long> LoginThrottle::wait_for(const Entry& e, int max, bool count_in_flight, Clock::time_point now) const {
  if (e.locked_until > now)
    return static_cast<long>(std::chrono::ceil<std::chrono::seconds>(e.locked_until - now).count());
  const int failures = now - e.window_start > window_ ? 0 : e.failures;
  // Attempts in flight may still fail: they count, so parallel guesses cannot exceed the limit.
  if (failures + (count_in_flight ? e.in_flight : 0) >= max) return 1;
  return std::nullopt;
}

std::optional<long> LoginThrottle::begin(const std::string& account, const std::string& address, Clock::time_point now) {
  std::lock_guard lk(mu_);
  accounts_.prune_some(now, window_);
  addresses_.prune_some(now, window_);
  auto& acc = accounts_.get(account, max_entries_);
  auto& addr = addresses_.get(http::client_key(address), max_entries_);
  auto a = wait_for(acc, max_account_, true, now);
  auto b = wait_for(addr, max_address_, true, now);
  if (a || b) return std::max(a.value_or(0), b.value_or(0));
  ++acc.in_flight;
  ++addr.in_flight;
  return std::nullopt;
}

void LoginThrottle::end(Table& table, const std::string& key, int max, Outcome o, Clock::time_point now) {
  auto it = table.entries.find(key);
  if (it == table.entries.end()) return;  // evicted meanwhile
  auto& e = it->second;
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
  end(addresses_, http::client_key(address), max_address_, o, now);
  if (o == Outcome::success) {
    auto it = accounts_.entries.find(account);
    if (it != accounts_.entries.end() && it->second.locked_until <= now) it->second.failures = 0;
  }
}

}  // namespace spectra::auth
