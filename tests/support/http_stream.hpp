#pragma once
// A response read as it arrives, for answers too large to hold (a streamed export): each piece of the
// body goes to a callback and is not kept.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "support/http_client.hpp"

namespace spectra::test {

struct StreamedResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::uint64_t body_bytes = 0;
  bool complete = false;  // the body ended as HTTP framed it (the last chunk), not with a broken connection
  std::string header(const std::string& lower_name) const;
};

// Sends a request without a body; hands each piece of the answer's body to `on_body` as it is read.
StreamedResponse http_stream(std::uint16_t port, const std::string& method, const std::string& target,
                             const Headers& headers, const std::function<void(std::string_view)>& on_body);

}  // namespace spectra::test
