#pragma once
// Password hashing: Argon2id (libsodium, OWASP parameters: 19 MiB, t=2, p=1); bcrypt ($2b$) hashes are
// verified through libcrypt and reported for re-hashing. Call these off the I/O threads.
#include <optional>
#include <string>
#include <string_view>

namespace spectra::auth {

std::string hash_password(std::string_view password);

struct PasswordCheck {
  bool ok = false;
  bool needs_rehash = false;  // bcrypt or weaker Argon2 parameters: re-hash after a successful login
};
// Constant-time verification; an empty or unknown hash verifies against a dummy so that an unknown
// email costs as much time as a wrong password.
PasswordCheck verify_password(std::string_view password, const std::optional<std::string>& stored_hash);

// The policy for passwords set through the API: nullopt when acceptable, else why not.
std::optional<std::string> password_policy_violation(std::string_view password, std::string_view email);

}  // namespace spectra::auth
