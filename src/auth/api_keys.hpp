#pragma once
// API key format: "sk_" + a 12-character public prefix + "_" + a 43-character secret (32 random bytes,
// base64url). Only the SHA-256 of the whole key is stored; the prefix finds the row.
#include <optional>
#include <string>
#include <string_view>

namespace spectra::auth {

struct ApiKeyParts {
  std::string prefix;
};

struct NewApiKey {
  std::string key;     // shown once
  std::string prefix;
  std::string hash;    // raw SHA-256 of key
};

NewApiKey generate_api_key();
std::optional<ApiKeyParts> parse_api_key(std::string_view key);

}  // namespace spectra::auth
