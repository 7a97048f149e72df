#include "platform/json_body.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <regex>

#include "platform/crypto.hpp"

namespace json = boost::json;

namespace spectra {

bool is_rfc3339(std::string_view s) noexcept {
  static const std::regex re(R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$)");
  return std::regex_match(s.begin(), s.end(), re);
}

JsonBody JsonBody::parse(const http::Request& req, bool allow_empty) {
  std::string_view body = req.body;
  const bool blank = std::all_of(body.begin(), body.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (blank) {
    if (allow_empty) return JsonBody(json::object{});
    throw bad_request("A JSON object body is required");
  }
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 64;
  auto v = json::parse(body, ec, {}, opt);
  if (ec) throw bad_request("Malformed JSON: " + ec.message());
  if (!v.is_object()) throw bad_request("The body must be a JSON object");
  return JsonBody(std::move(v.as_object()));
}

const json::value* JsonBody::get(std::string_view field) const {
  auto it = obj_.find(field);
  return it == obj_.end() ? nullptr : &it->value();
}

bool JsonBody::has(std::string_view field) const { return get(field) != nullptr; }

void JsonBody::fail(std::string_view field, std::string message) { errors_.push_back({std::string(field), std::move(message)}); }

JsonBody& JsonBody::allow_only(std::initializer_list<std::string_view> fields) {
  for (const auto& kv : obj_)
    if (std::find(fields.begin(), fields.end(), std::string_view(kv.key())) == fields.end())
      fail(kv.key(), "unknown field");
  return *this;
}

void JsonBody::finish() const {
  if (errors_.empty()) return;
  std::string detail = "Invalid request: ";
  for (std::size_t i = 0; i < errors_.size(); ++i) detail += (i ? "; " : "") + errors_[i].field + " " + errors_[i].message;
  ApiError e(ErrorCode::unprocessable, detail);
  for (const auto& f : errors_) e.with_field(f.field, f.message);
  throw e;
}

std::optional<std::string> JsonBody::optional_string(std::string_view field, std::size_t max_len) {
  const auto* v = get(field);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) {
    fail(field, "must be a string");
    return std::nullopt;
  }
  std::string s(v->as_string());
  if (s.size() > max_len) {
    fail(field, "must be at most " + std::to_string(max_len) + " characters");
    return std::nullopt;
  }
  if (s.find('\0') != std::string::npos) {
    fail(field, "must not contain NUL characters");
    return std::nullopt;
  }
  return s;
}

std::string JsonBody::required_string(std::string_view field, std::size_t max_len) {
  if (!get(field) || get(field)->is_null()) {
    fail(field, "is required");
    return {};
  }
  auto s = optional_string(field, max_len);
  if (s && std::all_of(s->begin(), s->end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    fail(field, "must not be blank");
    return {};
  }
  return s.value_or("");
}

std::optional<bool> JsonBody::optional_bool(std::string_view field) {
  const auto* v = get(field);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_bool()) {
    fail(field, "must be true or false");
    return std::nullopt;
  }
  return v->as_bool();
}

std::optional<std::string> JsonBody::optional_timestamp(std::string_view field) {
  auto s = optional_string(field, 64);
  if (s && !is_rfc3339(*s)) {
    fail(field, "must be an RFC 3339 time such as 2026-11-26T20:41:00Z");
    return std::nullopt;
  }
  return s;
}

std::vector<std::string> JsonBody::string_list(std::string_view field, bool required, std::size_t max_items) {
  std::vector<std::string> out;
  const auto* v = get(field);
  if (!v || v->is_null()) {
    if (required) fail(field, "is required");
    return out;
  }
  if (!v->is_array()) {
    fail(field, "must be a list of strings");
    return out;
  }
  if (v->as_array().size() > max_items) {
    fail(field, "must have at most " + std::to_string(max_items) + " items");
    return out;
  }
  for (const auto& item : v->as_array()) {
    if (!item.is_string() || item.as_string().empty() || item.as_string().size() > 200) {
      fail(field, "must be a list of non-empty strings");
      return {};
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

std::string JsonBody::object_json(std::string_view field) {
  const auto* v = get(field);
  if (!v || v->is_null()) return "{}";
  if (!v->is_object()) {
    fail(field, "must be a JSON object");
    return "{}";
  }
  return json::serialize(*v);
}

std::optional<std::string> JsonBody::optional_uuid(std::string_view field) {
  auto s = optional_string(field, 64);
  if (s && !crypto::is_uuid(*s)) {
    fail(field, "must be a UUID");
    return std::nullopt;
  }
  return s;
}

std::string JsonBody::required_uuid(std::string_view field) {
  if (!get(field) || get(field)->is_null()) {
    fail(field, "is required");
    return {};
  }
  return optional_uuid(field).value_or("");
}

std::optional<std::string> JsonBody::optional_enum(std::string_view field, std::initializer_list<std::string_view> values) {
  auto s = optional_string(field, 100);
  if (s && std::find(values.begin(), values.end(), *s) == values.end()) {
    std::string list;
    for (auto v : values) list += (list.empty() ? "" : ", ") + std::string(v);
    fail(field, "must be one of " + list);
    return std::nullopt;
  }
  return s;
}

std::string JsonBody::required_enum(std::string_view field, std::initializer_list<std::string_view> values) {
  if (!get(field) || get(field)->is_null()) {
    fail(field, "is required");
    return {};
  }
  return optional_enum(field, values).value_or("");
}

}  // namespace spectra
