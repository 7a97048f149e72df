#include "platform/http/message.hpp"

#include <algorithm>
#include <cctype>

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

std::string client_address(std::string_view peer, std::optional<std::string_view> forwarded_for,
                           const std::vector<std::string>& trusted) {
  auto is_trusted = [&](std::string_view a) {
    for (const auto& t : trusted)
      if (t == a) return true;
    return false;
  };
  auto looks_like_ip = [](std::string_view a) {
    if (a.empty() || a.size() > 45) return false;
    for (char c : a)
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':')) return false;
    return true;
  };
  if (!forwarded_for || !is_trusted(peer)) return std::string(peer);
  std::string_view rest = *forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
    while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
    if (!looks_like_ip(hop)) break;  // a forged or malformed entry: stop trusting the chain here
    if (!is_trusted(hop)) return std::string(hop);
  }
  return std::string(peer);
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
