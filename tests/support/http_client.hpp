#pragma once
// A small blocking HTTP client for the integration tests.
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace spectra::test {

struct HttpResponse {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  boost::json::value json() const;  // throws when the body is not JSON
  std::string header(const std::string& lower_name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpResponse http_request(std::uint16_t port, const std::string& method, const std::string& target,
                          const std::string& body = {}, const Headers& headers = {});
// Sends raw bytes and returns the raw answer (for malformed HTTP).
std::string raw_request(std::uint16_t port, const std::string& bytes);

}  // namespace spectra::test
