#pragma once
// The caller's password, again: what makes an act a person's signature (21 CFR Part 11) — signing a
// notebook entry, a nonconformance's disposition, issuing a certificate. One way for all of them.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "audit/audit.hpp"
#include "kit/route.hpp"

namespace spectra::kit {

// Checks `password` against the caller's own (Argon2id, off the I/O threads, on the credential checks'
// connections), throttled with the logins of the same account and client address. Answers the caller's
// printed name (what a signature records). 429 with Retry-After while throttled; 403 for an account
// without a password; 401 with `refusal` for a wrong password, which is recorded as `failed` in the
// audit trail (in a transaction of its own, beside the answer). Route guards keep API keys out: a key
// has no password.
boost::asio::awaitable<std::string> confirm_password(RequestContext& ctx, std::string password, audit::Entry failed,
                                                     std::string refusal);

}  // namespace spectra::kit
