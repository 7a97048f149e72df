#include "auth/password.hpp"

#include <crypt.h>
#include <sodium.h>

#include <cctype>
#include <stdexcept>

#include "platform/crypto.hpp"

namespace spectra::auth {
namespace {

constexpr unsigned long long kOpsLimit = 2;
constexpr std::size_t kMemLimit = 19u * 1024u * 1024u;

const std::string& dummy_hash() {
  static const std::string h = hash_password("not-a-real-password-only-for-timing");
  return h;
}

bool verify_argon(std::string_view password, const std::string& hash) {
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace

std::string hash_password(std::string_view password) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kOpsLimit, kMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::runtime_error("password hashing ran out of memory");
  return out;
}

PasswordCheck verify_password(std::string_view password, const std::optional<std::string>& stored) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
  PasswordCheck out;
  if (!stored || stored->empty()) {
    verify_argon(password, dummy_hash());
    return out;
  }
  const std::string& h = *stored;
  if (h.starts_with("$argon2")) {
    out.ok = verify_argon(password, h);
    out.needs_rehash = out.ok && crypto_pwhash_str_needs_rehash(h.c_str(), kOpsLimit, kMemLimit) != 0;
    return out;
  }
  if (h.starts_with("$2b$") || h.starts_with("$2a$") || h.starts_with("$2y$")) {
    crypt_data data{};
    const std::string pw(password);
    const char* computed = crypt_r(pw.c_str(), h.c_str(), &data);
    out.ok = computed && computed[0] != '*' && crypto::constant_time_equal(computed, h);
    out.needs_rehash = out.ok;
    return out;
  }
  verify_argon(password, dummy_hash());
  return out;
}

std::optional<std::string> password_policy_violation(std::string_view password, std::string_view email) {
  if (password.size() < 12) return "must be at least 12 characters long";
  if (password.size() > 128) return "must be at most 128 characters long";
  auto lower = [](std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
  };
  const std::string pw = lower(password);
  const std::string local = lower(email.substr(0, email.find('@')));
  if (!email.empty() && (pw == lower(email) || (local.size() >= 3 && pw.find(local) != std::string::npos)))
    return "must not contain your email address";
  bool all_same = true;
  for (char c : password) all_same = all_same && c == password[0];
  if (all_same) return "must not repeat a single character";
  return std::nullopt;
}

}  // namespace spectra::auth
