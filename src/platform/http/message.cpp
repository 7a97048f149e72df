#include "platform/http/message.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <cctype>

#include "platform/crypto.hpp"

namespace spectra::http {

std::string_view method_name(Method m) noexcept {
  switch (m) {
    case Method::GET: return "GET";
    case Method::POST: return "POST";
    case Method::PUT: return "PUT";
    case Method::PATCH: return "PATCH";
    case Method::DELETE_: return "DELETE";
    case Method::HEAD: return "HEAD";
    case Method::OPTIONS: return "OPTIONS";
    case Method::OTHER: return "OTHER";
  }
  return "OTHER";
}

namespace {

// An address as a proxy may write it: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]" or
// "[2001:db8::1]:443"; canonical text, IPv4-mapped IPv6 as IPv4; nullopt when it is none of these.
std::optional<boost::asio::ip::address> parse_hop(std::string_view hop) {
  if (hop.empty() || hop.size() > 64) return std::nullopt;
  if (hop.front() == '[') {
    const auto close = hop.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const auto after = hop.substr(close + 1);
    if (!after.empty() && (after.front() != ':' || after.size() < 2)) return std::nullopt;
    hop = hop.substr(1, close - 1);
  } else if (std::count(hop.begin(), hop.end(), ':') == 1) {
    hop = hop.substr(0, hop.find(':'));  // IPv4 with a port
  }
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(hop), ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return boost::asio::ip::address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()));
  return a;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
  return true;
}

}  // namespace

Request request_from_head(std::string_view method, std::string_view target,
                          const std::vector<std::pair<std::string_view, std::string_view>>& fields,
                          std::string_view peer, const std::vector<std::string>& trusted_proxies) {
  Request req;
  req.method = parse_method(method);
  req.target = std::string(target);
  req.headers.reserve(fields.size());
  std::optional<std::string> forwarded;  // every X-Forwarded-For line, in order, as one list
  for (const auto& [raw_name, value] : fields) {
    std::string name(raw_name);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (name == "x-forwarded-for") forwarded = forwarded ? *forwarded + "," + std::string(value) : std::string(value);
    req.headers.emplace_back(std::move(name), std::string(value));
  }
  req.remote_addr = client_address(peer, forwarded, trusted_proxies);
  const auto incoming_id = req.header("x-request-id");
  req.request_id = (incoming_id && valid_request_id(*incoming_id)) ? std::string(*incoming_id) : crypto::uuid_v4();
  return req;
}

bool decode_target(Request& req) {
  const auto url = boost::urls::parse_origin_form(req.target);
  if (!url) return false;
  req.path = url->path();
  req.query.clear();
  for (auto param : url->params()) req.query.emplace_back(param.key, param.has_value ? param.value : "");
  return true;
}

std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const std::vector<std::string>& trusted) {
  auto canonical_peer = parse_hop(peer);
  const std::string from = canonical_peer ? canonical_peer->to_string() : std::string(peer);
  auto is_trusted = [&](std::string_view a) {
    for (const auto& t : trusted)
      if (t == a) return true;
    return false;
  };
  if (!forwarded_for || !is_trusted(from)) return from;
  std::string_view rest = *forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
    while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
    auto a = parse_hop(hop);
    if (!a) break;  // a forged or malformed entry: stop trusting the chain here
    const std::string text = a->to_string();
    if (!is_trusted(text)) return text;
  }
  return from;
}

std::string client_key(std::string_view address) {
  auto a = parse_hop(address);
  if (!a || a->is_v4()) return a ? a->to_string() : std::string(address);
  // One IPv6 subscriber usually holds a whole /64: count it as one client.
  auto bytes = a->to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

Method parse_method(std::string_view s) noexcept {
  if (s == "GET") return Method::GET;
  if (s == "POST") return Method::POST;
  if (s == "PUT") return Method::PUT;
  if (s == "PATCH") return Method::PATCH;
  if (s == "DELETE") return Method::DELETE_;
  if (s == "HEAD") return Method::HEAD;
  if (s == "OPTIONS") return Method::OPTIONS;
  return Method::OTHER;
}

std::optional<std::string_view> Request::header(std::string_view lower_name) const noexcept {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const noexcept {
  for (const auto& [k, v] : query)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

std::string_view Request::path_param(std::string_view name) const noexcept {
  for (const auto& [k, v] : path_params)
    if (k == name) return v;
  return {};
}

std::string clean_utf8(std::string_view text, std::size_t max_bytes) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = len > 0 && i + len <= text.size() && c != 0;
    for (std::size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (valid && len > 1) {
      // No overlong forms, no surrogates, nothing above U+10FFFF.
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      if ((len == 2 && c < 0xC2) || (len == 3 && c == 0xE0 && c1 < 0xA0) || (len == 3 && c == 0xED && c1 >= 0xA0) ||
          (len == 4 && c == 0xF0 && c1 < 0x90) || (len == 4 && (c > 0xF4 || (c == 0xF4 && c1 >= 0x90))))
        valid = false;
    }
    const std::string_view piece = valid ? text.substr(i, len) : replacement;
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += valid ? len : 1;
  }
  return out;
}

}  // namespace spectra::http
