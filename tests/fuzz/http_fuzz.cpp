// libFuzzer: one HTTP/1.1 request as the server reads it — Beast's parser with the server's limits
// (16 KiB of head), then the request as handlers see it (request_from_head: header names, the
// client's address through X-Forwarded-For, the request id) and its decoded target (decode_target).
// A malformed request is refused by the parser or the target check; one that passes has a path that
// starts with '/', lower-case header names, a request id a log line can hold and a client address
// that is an address.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "platform/http/message.hpp"

namespace bhttp = boost::beast::http;
using namespace spectra;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == bhttp::error::need_more) break;
    if (ec) return 0;  // refused: the server answers 400, 413 or 431
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return 0;

  const auto& head = parser.get();
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  for (const auto& f : head) fields.emplace_back(f.name_string(), f.value());
  static const std::vector<std::string> proxies{"127.0.0.1", "10.0.0.1", "::1"};
  http::Request req = http::request_from_head(head.method_string(), head.target(), fields, "127.0.0.1", proxies);

  for (const auto& [name, value] : req.headers)
    for (const char c : name)
      if (std::isupper(static_cast<unsigned char>(c))) std::abort();
  if (req.request_id.empty() || req.request_id.size() > 128) std::abort();
  for (const char c : req.request_id)
    if (static_cast<unsigned char>(c) <= ' ' || c == '"' || c == '\\') std::abort();
  if (req.remote_addr.empty() || req.remote_addr.size() > 64) std::abort();
  (void)http::client_key(req.remote_addr);
  if (auto agent = req.header("user-agent")) {
    const std::string clean = http::clean_utf8(*agent, 512);
    if (clean.size() > 512 || clean.find('\0') != std::string::npos) std::abort();
  }
  if (http::decode_target(req)) {
    if (req.path.empty() || req.path.front() != '/') std::abort();
    for (const auto& [key, value] : req.query) (void)req.query_param(key);
  }
  return 0;
}
