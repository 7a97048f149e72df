#pragma once
// The request and response handlers see: plain structs, no Beast types, so that handler code compiles
// without the HTTP machinery.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spectra::http {

enum class Method { GET, POST, PUT, PATCH, DELETE_, HEAD, OPTIONS, OTHER };
std::string_view method_name(Method m) noexcept;

// The client's address: the peer's, or, when the peer is a trusted proxy (load balancer), the
// right-most address in X-Forwarded-For that is not itself a trusted proxy.
std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const std::vector<std::string>& trusted_proxies);
// What counts as one client for limits (connections, login throttling): an IPv4 address, or an IPv6
// address's /64 (one subscriber's network).
std::string client_key(std::string_view address);
Method parse_method(std::string_view s) noexcept;
// Text from a client (a header such as User-Agent) made safe to store: valid UTF-8 (each invalid byte
// becomes U+FFFD) of at most max_bytes, cut at a character boundary.
std::string clean_utf8(std::string_view text, std::size_t max_bytes);

struct Request;

// The request as handlers see it, from a parsed head: method, target, headers (names in lower case),
// the client's address (X-Forwarded-For believed only from trusted proxies, every line of it in order)
// and a request id (the client's X-Request-Id when it is a token of at most 128 characters of
// [A-Za-z0-9._:-], else a new one). The path and query are decoded by decode_target.
Request request_from_head(std::string_view method, std::string_view target,
                          const std::vector<std::pair<std::string_view, std::string_view>>& fields,
                          std::string_view peer, const std::vector<std::string>& trusted_proxies);
// Decodes the request's target into its path and query parameters (percent-decoded); false when the
// target is not an origin-form path (RFC 9112 3.2.1), and then the request is left as it was.
bool decode_target(Request& req);

struct Request {
  Method method = Method::GET;
  std::string target;  // as received
  std::string path;    // decoded path, no query
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::vector<std::pair<std::string, std::string>> path_params;
  std::string body;
  std::string remote_addr;
  std::string request_id;

  std::optional<std::string_view> header(std::string_view lower_name) const noexcept;
  std::optional<std::string_view> query_param(std::string_view name) const noexcept;
  std::string_view path_param(std::string_view name) const noexcept;
};

// A body sent as it is produced (chunked transfer encoding), so that a large export never sits in
// memory whole: next() answers the next piece, or nothing at the end. A failure after the head was
// sent cannot change the status: the server then closes the connection without the last chunk, so
// the client sees an incomplete transfer rather than a short file it could mistake for a whole one.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual boost::asio::awaitable<std::optional<std::string>> next() = 0;
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::shared_ptr<BodyStream> stream;  // when set, the body (body is ignored)
  std::vector<std::pair<std::string, std::string>> headers;
  // For the access log and metrics only (never sent): who made the request, the template of the route
  // that took it ("/api/samples/{id}"; empty when none did) and the caller's organization.
  std::string actor;
  std::string route;
  std::string organization;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  static Response json(unsigned status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static Response no_content() {
    Response r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
};

}  // namespace spectra::http
