#pragma once
// Access tokens (JWT, RFC 7519) signed with HS256 or RS256 from a key ring: one key signs, every key in
// the ring verifies, so a new key can sign while old tokens still verify. Validation follows RFC 8725:
// the algorithm comes from configuration (never from the token), "none" and HS/RS confusion are refused,
// exp/nbf/iat are checked with a small leeway, iss and aud must match.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/rbac.hpp"
#include "platform/config.hpp"

namespace spectra::auth {

struct IssuedToken {
  std::string token;
  std::string jti;
  long expires_in = 0;  // seconds
};

enum class TokenError { malformed, unsupported_algorithm, unknown_key, bad_signature, expired, not_yet_valid,
                        wrong_issuer, wrong_audience, missing_claim };
std::string_view describe(TokenError e) noexcept;

class TokenService {
 public:
  // Throws std::runtime_error for a secret shorter than 32 bytes or an unreadable key file.
  explicit TokenService(const Config& config);
  ~TokenService();

  IssuedToken issue_access_token(const Principal& who) const;
  // The principal of a valid access token, or why it is not valid.
  struct Verified {
    std::optional<Principal> principal;
    TokenError error = TokenError::malformed;
  };
  Verified verify(std::string_view token) const;
  // {"keys": [...]}: the public keys of the ring (empty for HS256).
  std::string jwks_json() const;
  const std::string& signing_kid() const;
  bool knows_kid(std::string_view kid) const;

 private:
  struct Key;
  std::vector<std::shared_ptr<Key>> keys_;  // keys_[0] signs
  std::string algorithm_;
  std::string issuer_, audience_;
  std::chrono::seconds ttl_;
  std::chrono::seconds leeway_{30};
};

// Decodes the JSON header and payload of a compact JWS without verifying it (for routing by iss/kid).
struct JwtParts {
  std::string header_json, payload_json, signing_input, signature;
};
std::optional<JwtParts> split_jwt(std::string_view token);

// Checks the registered claims of a payload (exp, nbf, iat, iss, aud) at `now`.
std::optional<TokenError> check_registered_claims(const std::string& payload_json, const std::string& issuer,
                                                  const std::string& audience, std::chrono::seconds leeway,
                                                  std::chrono::system_clock::time_point now);

}  // namespace spectra::auth
