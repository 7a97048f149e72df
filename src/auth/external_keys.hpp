#pragma once
// Tokens of an external OpenID Connect provider (JWKS_URL): RS256 or ES256, verified against the
// provider's published keys, fetched off the I/O threads, cached, and fetched again on an unknown kid
// (at most every 30 seconds, so a flood of bogus kids cannot hammer the provider).
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "platform/config.hpp"

namespace spectra {
class BlockingPool;
}

namespace spectra::auth {

class ExternalKeys {
 public:
  ExternalKeys(const Config& config, BlockingPool& blocking);
  ~ExternalKeys();
  // True for a well-formed JWS with an asymmetric algorithm this class verifies.
  bool may_handle(std::string_view token) const;
  // The email claim of a valid external token; nullopt when invalid.
  boost::asio::awaitable<std::optional<std::string>> verify(std::string_view token);
  // Replaces the key set from a JWKS document (used after a fetch, and by tests).
  void load_jwks(const std::string& jwks_json);
  std::size_t key_count() const;

 private:
  struct Key;
  std::shared_ptr<Key> find(const std::string& kid) const;
  boost::asio::awaitable<void> refresh(bool force);

  Config config_;
  BlockingPool& blocking_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Key>> keys_;
  std::chrono::steady_clock::time_point fetched_at_{}, last_attempt_{};
};

// GET over http or https (certificate verified), blocking; throws std::runtime_error.
std::string http_get(const std::string& url, std::chrono::seconds timeout);

}  // namespace spectra::auth
