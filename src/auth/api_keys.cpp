#include "auth/api_keys.hpp"

#include "platform/crypto.hpp"

namespace spectra::auth {

NewApiKey generate_api_key() {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string prefix;
  for (unsigned char b : crypto::random_bytes(12)) prefix += alphabet[b % 36];
  NewApiKey k;
  k.prefix = prefix;
  k.key = "sk_" + prefix + "_" + crypto::base64url_encode(crypto::random_bytes(32));
  k.hash = crypto::sha256(k.key);
  return k;
}

std::optional<ApiKeyParts> parse_api_key(std::string_view key) {
  if (key.size() != 3 + 12 + 1 + 43 || !key.starts_with("sk_") || key[15] != '_') return std::nullopt;
  for (char c : key.substr(3, 12))
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return std::nullopt;
  if (!crypto::base64url_decode(key.substr(16))) return std::nullopt;
  return ApiKeyParts{std::string(key.substr(3, 12))};
}

}  // namespace spectra::auth
