#include "kit/reauth.hpp"

#include "auth/password.hpp"
#include "auth/throttle.hpp"
#include "kit/data.hpp"
#include "platform/blocking.hpp"

namespace asio = boost::asio;

namespace spectra::kit {
namespace {

const db::Query signer_q{"reauth_signer",
                         "SELECT u.password_hash, u.full_name FROM users u WHERE u.organization_id = $1 AND u.id = $2"};
struct Signer {
  std::optional<std::string> password_hash;
  std::string full_name;
};
const db::Decoder<Signer> signer_row{signer_q,
                                     {{"password_hash", &Signer::password_hash}, {"full_name", &Signer::full_name}}};

}  // namespace

asio::awaitable<std::string> confirm_password(RequestContext& ctx, std::string password, audit::Entry failed,
                                              std::string refusal) {
  auto& throttle = *ctx.deps.throttle;
  if (auto wait = co_await throttle.begin(ctx.principal.email, ctx.req.remote_addr))
    throw std::move(ApiError(ErrorCode::too_many_requests, "Too many failed password attempts; try again later")
                        .with_header("Retry-After", std::to_string(*wait)));
  auth::LoginThrottle::Attempt attempt(throttle, ctx.principal.email, ctx.req.remote_addr);
  auto who = co_await db::read(*ctx.deps.auth_pool, ctx.tenant(), signer_q, db::Params(ctx.principal.user_id));
  if (who.empty()) throw unauthorized("Your account no longer exists");
  const Signer signer = signer_row(who);
  if (!signer.password_hash) throw forbidden("Your account has no password to sign with");
  auto verify = [password = std::move(password), stored = signer.password_hash] {
    return auth::verify_password(password, stored);
  };
  const WorkShare share = ctx.share();
  auto check = co_await ctx.deps.passwords->run(std::move(verify), share);
  if (!check.ok) {
    std::vector<db::Statement> event;
    event.push_back(audit::statement(ctx.actor(), std::move(failed)));
    attempt.failed(ctx.principal.org_id, std::move(event));
    throw unauthorized(std::move(refusal));
  }
  co_await attempt.succeeded();
  std::string name = signer.full_name;
  co_return name;
}

}  // namespace spectra::kit
