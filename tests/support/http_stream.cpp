#include "support/http_stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace spectra::test {

std::string StreamedResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

StreamedResponse http_stream(std::uint16_t port, const std::string& method, const std::string& target,
                             const Headers& headers, const std::function<void(std::string_view)>& on_body) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  bhttp::request<bhttp::empty_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  bhttp::write(stream, req);

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  stream.expires_after(std::chrono::seconds(30));
  bhttp::read_header(stream, buffer, parser);
  StreamedResponse out;
  out.status = parser.get().result_int();
  for (const auto& f : parser.get()) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  // The body a buffer at a time (Beast's buffer_body: need_buffer means this buffer is full).
  std::vector<char> piece(1 << 16);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(30));  // a pause between pieces, not the whole answer
    bhttp::read_some(stream, buffer, parser, ec);  // what has arrived: a live stream's events as they come
    if (ec == bhttp::error::need_buffer) ec = {};
    const std::size_t got = piece.size() - parser.get().body().size;
    out.body_bytes += got;
    if (got > 0) on_body(std::string_view(piece.data(), got));
    if (ec) break;
  }
  out.complete = parser.is_done();
  beast::error_code ec;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace spectra::test
