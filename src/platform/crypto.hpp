#pragma once
// Small cryptographic helpers over OpenSSL and libsodium.
#include <optional>
#include <string>
#include <string_view>

namespace spectra::crypto {

std::string sha256(std::string_view data);                            // 32 raw bytes
// SHA-256 of data given in pieces (files too large to hold).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view piece);
  std::string hex();  // the digest of everything given, in lowercase hex; the hash is done with
 private:
  void* ctx_;
};
std::string hmac_sha256(std::string_view key, std::string_view data);  // 32 raw bytes
std::string random_bytes(std::size_t n);
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);  // nullopt unless pairs of [0-9a-fA-F]
std::string base64url_encode(std::string_view bytes);  // no padding
std::optional<std::string> base64url_decode(std::string_view text);  // refuses padding and bad characters
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);  // standard alphabet, padded
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;
std::string uuid_v4();
bool is_uuid(std::string_view s) noexcept;

}  // namespace spectra::crypto
