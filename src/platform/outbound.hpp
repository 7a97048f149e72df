#pragma once
// Requests the server makes to other systems on a person's behalf (webhook deliveries, mail), made
// safe for a multi-tenant deployment: only http(s) URLs without credentials; the host resolved once,
// every address checked (no private, loopback, link-local, multicast or unspecified targets unless
// allowed) and the connection made to the address that was checked (no DNS rebinding); no proxies, no
// redirects, a total timeout, and the answer read up to a cap. Blocking: call from worker threads.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spectra::outbound {

// Why `url` cannot be a webhook's target (scheme, credentials, host), without resolving it; nullopt
// when its form is acceptable.
std::optional<std::string> url_problem(std::string_view url);

// Whether an IP address (text, v4 or v6) is one a webhook must not reach without WEBHOOK_ALLOW_PRIVATE:
// loopback, private (RFC 1918, unique local fc00::/7), link-local, carrier-grade NAT, multicast,
// unspecified, broadcast, documentation and v4-mapped forms of these. An unparsable text is refused.
bool is_restricted_address(std::string_view address);

// The host of `url` resolved, each address checked: the address to connect to, or why not.
struct Resolution {
  std::string host, address, problem;  // problem empty when address is set
  int port = 0;
};
Resolution resolve(std::string_view url, bool allow_private);

struct PostResult {
  std::optional<int> status;  // none when no answer came
  std::int64_t duration_ms = 0;
  std::string error;          // empty when an answer came
  std::string excerpt;        // the answer's first bytes (at most 1,024, valid UTF-8)
};
// POSTs `body` to `url` with `headers`, connecting only to the checked address; no redirects followed,
// `timeout` in total, at most 64 KiB of the answer read.
PostResult post(std::string_view url, const std::vector<std::pair<std::string, std::string>>& headers,
                const std::string& body, bool allow_private, std::chrono::milliseconds timeout);

// Sends one message (RFC 5322 text, headers included) through `smtp_url`; an error's text, or "".
std::string send_mail(const std::string& smtp_url, const std::string& from, const std::string& to,
                      const std::string& message, std::chrono::milliseconds timeout);

}  // namespace spectra::outbound
