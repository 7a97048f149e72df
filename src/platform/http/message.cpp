#include "platform/http/message.hpp"

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

}  // namespace spectra::http
