#pragma once
// What the HTTP server serves: a name for its logs, a body limit per request target (decided before
// the body is read), and the request handler itself.
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "platform/error.hpp"
#include "platform/http/message.hpp"

namespace spectra::http {

struct Handler {
  std::string name;
  std::function<std::size_t(Method, std::string_view target)> body_limit;
  // Before a body beyond the JSON limit is read: a refusal (401, 403, ...) from the head alone, or
  // nothing when the sender may send it. Never throws.
  std::function<boost::asio::awaitable<std::optional<Response>>(const Request& head)> admit;
  std::function<boost::asio::awaitable<Response>(Request&)> handle;  // never throws
};

// The problem+json response of an error (RFC 9457), with the request id.
Response problem_response(const ApiError& e, const std::string& request_id);

}  // namespace spectra::http
