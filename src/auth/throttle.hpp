#pragma once
// Failed-password throttling (logins and signatures) per account and per client (an IPv4 address or
// an IPv6 /64), kept in PostgreSQL (app.password_failures, migration 12) so that the limits hold across
// every server behind a load balancer: after `max` failures within the window, further attempts are
// refused (429 with Retry-After) until the lockout has passed. An attempt counts as a failure from the
// moment it begins and is forgiven when it succeeds, so a burst of parallel guesses cannot slip past
// the limit while the password hashes are computed, and an attempt whose server died still counts.
// The account is the e-mail folded by PostgreSQL's lower(), as login looks it up.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include <vector>

#include "platform/config.hpp"
#include "platform/db/result.hpp"

namespace spectra::db {
class Pool;
}

namespace spectra::auth {

class LoginThrottle {
 public:
  // `pool`: the connections for credential checks (DB_AUTH_POOL_SIZE), apart from the requests' pool.
  LoginThrottle(const Config& config, db::Pool& pool);

  // Reserves an attempt for this account and address; nullopt when it may proceed, else the seconds to
  // wait. Every reserved attempt ends with exactly one finish().
  boost::asio::awaitable<std::optional<long>> begin(const std::string& email, const std::string& address);
  enum class Outcome { success, failure, abandoned };
  // Records how the attempt ended, with `also` (the failure's audit event) in the same transaction of
  // the organization `org` (empty: none known); retried while the database is briefly unavailable.
  boost::asio::awaitable<void> finish(const std::string& email, const std::string& address, Outcome outcome,
                                      std::string org = {}, std::vector<db::Statement> also = {});

  // Ends a reserved attempt as abandoned unless finished explicitly (an exception left the handler): the
  // reservation is released in the background.
  class Attempt {
   public:
    Attempt(LoginThrottle& t, std::string email, std::string address)
        : t_(t), email_(std::move(email)), address_(std::move(address)) {}
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;
    ~Attempt();
    boost::asio::awaitable<void> succeeded();
    // A wrong password: recorded with `also` (its audit event) in one transaction of `org`, on the
    // throttle's own connections, retried while the database is briefly unavailable. It is written
    // beside the answer, not before it, so that a wrong password for a known account answers as fast as
    // one for an unknown account, whatever holds the account's rows (the attempt already counts: it
    // was reserved when it began).
    void failed(std::string org = {}, std::vector<db::Statement> also = {});

   private:
    LoginThrottle& t_;
    std::string email_, address_;
    bool done_ = false;
  };

 // Since start: wrong passwords, and attempts refused by the throttle (429).
  struct Counts {
    std::uint64_t failures = 0, throttled = 0;
  };
  Counts counts() const noexcept { return {failures_.load(), throttled_.load()}; }

 private:
  std::atomic<std::uint64_t> failures_{0}, throttled_{0};
  db::Pool& pool_;
  int max_account_, max_address_;
  long window_seconds_, lockout_seconds_;
};

}  // namespace spectra::auth
