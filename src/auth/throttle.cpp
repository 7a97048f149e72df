#include "auth/throttle.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "platform/db/pool.hpp"
#include "platform/db/tx.hpp"
#include "platform/http/message.hpp"

namespace asio = boost::asio;

namespace spectra::auth {
namespace {

const db::Query begin_q{"throttle_begin", "SELECT app.password_attempt_begin($1, $2, $3, $4, $5) AS retry_after"};
struct Throttled {
  std::optional<std::int64_t> retry_after;  // seconds; NULL when the attempt may go ahead
};
const db::Decoder<Throttled> throttled{begin_q, {{"retry_after", &Throttled::retry_after}}};
// In a transaction of the account's organization ($1, bound by db::Tx, unused here).
const db::Query end_q{"throttle_end",
                      "SELECT app.password_attempt_end($2, $3, $4, $5, $6, $7) FROM (SELECT $1::uuid) AS organization"};
// The organization of an attempt whose account is unknown: none.
constexpr const char* no_organization = "00000000-0000-0000-0000-000000000000";

const char* outcome_name(LoginThrottle::Outcome o) {
  switch (o) {
    case LoginThrottle::Outcome::success: return "success";
    case LoginThrottle::Outcome::failure: return "failure";
    case LoginThrottle::Outcome::abandoned: return "abandoned";
  }
  return "abandoned";
}

}  // namespace

LoginThrottle::LoginThrottle(const Config& c, db::Pool& pool)
    : pool_(pool), max_account_(c.login_max_failures_per_account), max_address_(c.login_max_failures_per_address),
      window_seconds_(c.login_failure_window.count()), lockout_seconds_(c.login_lockout.count()) {}

asio::awaitable<std::optional<long>> LoginThrottle::begin(const std::string& email, const std::string& address) {
  auto r = co_await db::lookup_before_tenant(
      pool_, begin_q, db::Params(email, http::client_key(address), max_account_, max_address_, window_seconds_));
  const Throttled t = throttled(r);
  if (!t.retry_after) co_return std::nullopt;
  throttled_.fetch_add(1, std::memory_order_relaxed);
  const long wait = *t.retry_after;
  co_return wait;
}

asio::awaitable<void> LoginThrottle::finish(const std::string& email, const std::string& address, Outcome outcome,
                                            std::string org, std::vector<db::Statement> also) {
  const db::TenantContext tenant{org.empty() ? std::string(no_organization) : org, {}, {}};
  const db::Params params(email, http::client_key(address), outcome_name(outcome), max_account_, max_address_,
                          lockout_seconds_);
  // Named: GCC 12 mishandles temporaries (a std::function among them) inside co_await.
  std::function<asio::awaitable<void>()> attempt = [&]() -> asio::awaitable<void> {
    co_await db::transact(pool_, tenant, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<void> {
      tx.defer(db::Statement{&end_q, params});
      for (const auto& s : also) tx.defer(s);
      co_return;
    });
  };
  co_await db::with_retries(attempt);
}

LoginThrottle::Attempt::~Attempt() {
  if (done_) return;
  // Released in the background: a destructor cannot wait. A lost release only counts the attempt as
  // a failure until the window ends.
  auto release = [](LoginThrottle& t, std::string email, std::string address) -> asio::awaitable<void> {
    try {
      co_await t.finish(email, address, Outcome::abandoned);
    } catch (const std::exception& e) {
      spdlog::warn("throttle: an abandoned attempt was not released: {}", e.what());
    }
  };
  asio::co_spawn(t_.pool_.executor(), release(t_, std::move(email_), std::move(address_)), asio::detached);
}

asio::awaitable<void> LoginThrottle::Attempt::succeeded() {
  done_ = true;
  co_await t_.finish(email_, address_, Outcome::success);
}

void LoginThrottle::Attempt::failed(std::string org, std::vector<db::Statement> also) {
  done_ = true;
  t_.failures_.fetch_add(1, std::memory_order_relaxed);
  auto record = [](LoginThrottle& t, std::string email, std::string address, std::string org,
                   std::vector<db::Statement> also) -> asio::awaitable<void> {
    try {
      co_await t.finish(email, address, Outcome::failure, org, std::move(also));
    } catch (const std::exception& e) {
      spdlog::error("a failed password attempt of {} was not recorded: {}", org.empty() ? "an unknown account" : org,
                    e.what());
    }
  };
  asio::co_spawn(t_.pool_.executor(), record(t_, email_, address_, std::move(org), std::move(also)), asio::detached);
}

}  // namespace spectra::auth
