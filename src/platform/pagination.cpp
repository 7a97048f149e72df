#include "platform/pagination.hpp"

#include <charconv>
#include <regex>

#include "platform/crypto.hpp"
#include "platform/error.hpp"

namespace spectra {

Page parse_page(const http::Request& req) {
  Page p;
  if (auto l = req.query_param("limit")) {
    int v = 0;
    auto [ptr, ec] = std::from_chars(l->data(), l->data() + l->size(), v);
    if (ec != std::errc{} || ptr != l->data() + l->size() || v < 1 || v > 500)
      throw std::move(bad_request("limit must be a whole number from 1 to 500").with_field("limit", "must be 1..500"));
    p.limit = v;
  }
  if (auto c = req.query_param("cursor"); c && !c->empty()) {
    auto raw = crypto::base64url_decode(*c);
    const auto bar = raw ? raw->find('|') : std::string::npos;
    // The timestamp part is PostgreSQL's timestamptz text, as the list queries select it.
    static const std::regex ts(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$)");
    if (!raw || bar == std::string::npos || !crypto::is_uuid(raw->substr(bar + 1)) ||
        !std::regex_match(raw->substr(0, bar), ts))
      throw std::move(bad_request("cursor is not one this server issued").with_field("cursor", "invalid"));
    p.after_created_at = raw->substr(0, bar);
    p.after_id = raw->substr(bar + 1);
  }
  return p;
}

std::string page_json(const db::Result& rows, const Page& page) {
  std::string out = "{\"items\":[";
  const int n = std::min(rows.rows(), page.limit);
  for (int i = 0; i < n; ++i) {
    if (i) out += ',';
    out += rows.get(i, 0);
  }
  out += "],\"next_cursor\":";
  if (rows.rows() > page.limit) {
    out += '"' + crypto::base64url_encode(std::string(rows.get(n - 1, 1)) + "|" + std::string(rows.get(n - 1, 2))) + '"';
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

std::optional<std::string> uuid_param(const http::Request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::nullopt;
  if (!crypto::is_uuid(*v))
    throw std::move(bad_request(std::string(name) + " must be a UUID").with_field(std::string(name), "must be a UUID"));
  return std::string(*v);
}

std::string uuid_path_param(const http::Request& req, std::string_view name) {
  auto v = req.path_param(name);
  if (!crypto::is_uuid(v)) throw not_found();
  return std::string(v);
}

}  // namespace spectra
