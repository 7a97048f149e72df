// libFuzzer: access-token verification. The first byte picks what the rest is: a whole compact token
// from anyone (odd), or a payload that this harness signs with the service's own key (even), so that
// the claims' parsing behind the signature check is reached too. verify() must answer a principal or
// a reason, never crash; a principal only for a payload whose claims hold.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/tokens.hpp"
#include "platform/config.hpp"
#include "platform/crypto.hpp"

namespace {

const spectra::auth::TokenService& service() {
  static const spectra::auth::TokenService s = [] {
    spectra::Config c;
    c.jwt_algorithm = "HS256";
    c.jwt_secret = "fuzzing-secret-fuzzing-secret-fuzzing-secret";
    return spectra::auth::TokenService(c);
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spectra;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    (void)service().verify(rest);
    (void)auth::split_jwt(rest);
    return 0;
  }
  const std::string header = R"({"alg":"HS256","typ":"JWT","kid":")" + service().signing_kid() + R"("})";
  const std::string input = crypto::base64url_encode(header) + "." + crypto::base64url_encode(rest);
  const std::string token =
      input + "." + crypto::base64url_encode(crypto::hmac_sha256("fuzzing-secret-fuzzing-secret-fuzzing-secret", input));
  const auto verified = service().verify(token);
  if (verified.principal && verified.principal->user_id.empty()) std::abort();  // a principal names its user
  return 0;
}
