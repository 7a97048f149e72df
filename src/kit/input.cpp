#include "kit/input.hpp"

#include <cctype>
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>

#include "platform/crypto.hpp"

namespace json = boost::json;

namespace spectra::kit {
namespace {

// The regexes of declared patterns, compiled once (check_spec, at start-up) and then only read.
const std::regex& compiled(const std::string& pattern) {
  static std::mutex mutex;
  static std::vector<std::pair<std::string, std::unique_ptr<std::regex>>> cache;
  std::lock_guard lock(mutex);
  for (const auto& [p, re] : cache)
    if (p == pattern) return *re;
  cache.emplace_back(pattern, std::make_unique<std::regex>(pattern, std::regex::ECMAScript));
  return *cache.back().second;
}

std::string list_of(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

std::string number_text(double v) {
  if (v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  return std::to_string(v);
}

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// The rules every string-shaped kind shares: length, NUL and control characters, blank, pattern, enum, uuid, time.
std::optional<std::string> check_string(const FieldSpec& spec, const std::string& s) {
  if (utf8_length(s) > spec.max_length) return "must be at most " + std::to_string(spec.max_length) + " characters";
  if (s.find('\0') != std::string::npos) return "must not contain NUL characters";
  const bool control = std::any_of(s.begin(), s.end(), [&spec](char c) {
    const bool line = c == '\n' || c == '\r' || c == '\t';
    return (static_cast<unsigned char>(c) < 0x20 && !(spec.multiline && line)) || c == 0x7f;
  });
  if (control) return spec.multiline ? "must not contain control characters other than line breaks and tabs"
                                     : "must not contain control characters (line breaks, tabs, ...)";
  if (spec.not_blank && blank(s)) return "must not be blank";
  if (spec.kind == Kind::uuid && !crypto::is_uuid(s)) return "must be a UUID";
  if (spec.kind == Kind::timestamp && !is_rfc3339(s)) return "must be an RFC 3339 time such as 2026-11-26T20:41:00Z";
  if (!spec.one_of.empty() && spec.kind != Kind::string_list &&
      std::find(spec.one_of.begin(), spec.one_of.end(), s) == spec.one_of.end())
    return "must be one of " + list_of(spec.one_of);
  if (!spec.pattern.empty() && !std::regex_match(s, compiled(spec.pattern))) return "has an invalid format";
  return std::nullopt;
}

// A UUID as PostgreSQL writes it (lower case), so that ids compare equal wherever they are echoed.
void canonical_uuid(std::string& s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::optional<std::string> check_range(const FieldSpec& spec, double v) {
  if ((spec.minimum && v < *spec.minimum) || (spec.maximum && v > *spec.maximum)) {
    if (spec.minimum && spec.maximum)
      return "must be from " + number_text(*spec.minimum) + " to " + number_text(*spec.maximum);
    if (spec.minimum) return "must be at least " + number_text(*spec.minimum);
    return "must be at most " + number_text(*spec.maximum);
  }
  return std::nullopt;
}

}  // namespace

bool Problems::has(std::string_view field) const noexcept {
  return std::any_of(list_.begin(), list_.end(), [&](const FieldError& f) { return f.field == field; });
}

void Problems::raise_if_any(ErrorCode code) const {
  if (list_.empty()) return;
  // The detail names the first few; `errors` lists up to max_field_errors and counts the rest.
  constexpr std::size_t in_detail = 5;
  std::string detail = code == ErrorCode::unprocessable ? "Invalid request: " : "Invalid parameters: ";
  for (std::size_t i = 0; i < list_.size() && i < in_detail; ++i)
    detail += (i ? "; " : "") + list_[i].field + " " + list_[i].message;
  const std::size_t more = list_.size() + truncated_ - std::min(list_.size(), in_detail);
  if (more > 0) detail += "; and " + std::to_string(more) + " more";
  ApiError e(code, detail);
  for (const auto& f : list_) e.with_field(f.field, f.message);
  e.with_truncated(truncated_);
  throw e;
}

void check_id_list(std::string_view field, const std::vector<std::string>& ids, Problems& problems) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string name = std::string(field) + "[" + std::to_string(i) + "]";
    std::string id = ids[i];
    for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!crypto::is_uuid(id))
      problems.add(name, "must be a UUID");
    else if (!seen.insert(id).second)
      problems.add(name, "is listed twice");
  }
}

void check_spec(const FieldSpec& spec) {
  if (spec.name.empty()) throw std::logic_error("an input field has no name");
  if (!spec.pattern.empty()) compiled(spec.pattern);  // throws std::regex_error on a bad pattern
}

std::optional<std::string> decode_json(const FieldSpec& spec, const void* raw, Value& out) {
  const auto& v = *static_cast<const json::value*>(raw);
  if (v.is_null()) {
    if (spec.required) return std::string("is required");
    out = std::monostate{};
    return std::nullopt;
  }
  switch (spec.kind) {
    case Kind::string:
    case Kind::uuid:
    case Kind::timestamp: {
      if (!v.is_string()) return std::string("must be a string");
      std::string s(v.as_string());
      if (auto p = check_string(spec, s)) return p;
      if (spec.kind == Kind::uuid) canonical_uuid(s);
      out = std::move(s);
      return std::nullopt;
    }
    case Kind::boolean:
      if (!v.is_bool()) return std::string("must be true or false");
      out = v.as_bool();
      return std::nullopt;
    case Kind::integer: {
      std::int64_t n = 0;
      if (v.is_int64()) n = v.as_int64();
      else if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) n = static_cast<std::int64_t>(v.as_uint64());
      else if (v.is_double() && std::floor(v.as_double()) == v.as_double() && std::abs(v.as_double()) < 9e15)
        n = static_cast<std::int64_t>(v.as_double());
      else return std::string("must be a whole number");
      if (auto p = check_range(spec, static_cast<double>(n))) return p;
      out = n;
      return std::nullopt;
    }
    case Kind::number: {
      if (!v.is_number()) return std::string("must be a number");
      const double d = v.to_number<double>();
      if (!std::isfinite(d)) return std::string("must be a finite number");
      if (auto p = check_range(spec, d)) return p;
      out = d;
      return std::nullopt;
    }
    case Kind::object:
      if (!v.is_object()) return std::string("must be a JSON object");
      out = json::serialize(v);
      return std::nullopt;
    case Kind::object_list: return std::string("must be a list of objects");  // decoded as nested items
    case Kind::string_list: {
      if (!v.is_array()) return std::string("must be a list of strings");
      const auto& a = v.as_array();
      if (a.size() > spec.max_length) return "must have at most " + std::to_string(spec.max_length) + " items";
      std::vector<std::string> items;
      items.reserve(a.size());
      for (const auto& item : a) {
        if (!item.is_string() || item.as_string().empty() || item.as_string().size() > 200 ||
            item.as_string().find('\0') != json::string::npos)
          return std::string("must be a list of non-empty strings");
        std::string s(item.as_string());
        if (!spec.one_of.empty() && std::find(spec.one_of.begin(), spec.one_of.end(), s) == spec.one_of.end())
          return "has " + s + ", which is not one of " + list_of(spec.one_of);
        items.push_back(std::move(s));
      }
      if (spec.minimum && static_cast<double>(items.size()) < *spec.minimum)
        return "must name at least " + number_text(*spec.minimum) + (*spec.minimum == 1 ? " item" : " items");
      out = std::move(items);
      return std::nullopt;
    }
  }
  return std::string("is invalid");
}

std::optional<std::string> decode_text(const FieldSpec& spec, std::string_view text, Value& out) {
  switch (spec.kind) {
    case Kind::string:
    case Kind::uuid:
    case Kind::timestamp: {
      std::string s(text);
      if (auto p = check_string(spec, s)) return p;
      if (spec.kind == Kind::uuid) canonical_uuid(s);
      out = std::move(s);
      return std::nullopt;
    }
    case Kind::boolean:
      if (text != "true" && text != "false") return std::string("must be true or false");
      out = text == "true";
      return std::nullopt;
    case Kind::integer: {
      std::int64_t n = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc{} || ptr != text.data() + text.size()) return std::string("must be a whole number");
      if (auto p = check_range(spec, static_cast<double>(n))) return p;
      out = n;
      return std::nullopt;
    }
    case Kind::number: {
      double d = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(d)) return std::string("must be a number");
      if (auto p = check_range(spec, d)) return p;
      out = d;
      return std::nullopt;
    }
    case Kind::string_list: {
      std::vector<std::string> items;
      std::size_t i = 0;
      while (i <= text.size()) {
        auto j = text.find(',', i);
        if (j == std::string_view::npos) j = text.size();
        std::string item(text.substr(i, j - i));
        if (item.empty()) return std::string("must be a comma-separated list of values");
        if (!spec.one_of.empty() && std::find(spec.one_of.begin(), spec.one_of.end(), item) == spec.one_of.end())
          return "has " + item + ", which is not one of " + list_of(spec.one_of);
        items.push_back(std::move(item));
        i = j + 1;
      }
      if (items.size() > spec.max_length) return "must have at most " + std::to_string(spec.max_length) + " items";
      out = std::move(items);
      return std::nullopt;
    }
    case Kind::object:
    case Kind::object_list: return std::string("cannot be given in a query string");
  }
  return std::string("is invalid");
}

namespace {

// The text with each bare NaN, Infinity or -Infinity (outside strings) written as 1e999 or -1e999,
// which the parser reads as an infinite number; nothing when there is none.
std::optional<std::string> non_finite_as_overflow(std::string_view text) {
  std::string out;
  bool in_string = false, changed = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\' && i + 1 < text.size()) {
        out += c;
        out += text[++i];
        continue;
      }
      in_string = c != '"';
      out += c;
      continue;
    }
    if (c == '"') in_string = true;
    const auto rest = text.substr(i);
    if (rest.starts_with("NaN")) {
      out += "1e999";
      i += 2;
      changed = true;
    } else if (rest.starts_with("Infinity")) {
      out += "1e999";
      i += 7;
      changed = true;
    } else {
      out += c;
    }
  }
  if (!changed) return std::nullopt;
  return out;
}

}  // namespace

void visit_json_object(std::string_view body, bool allow_empty, const std::function<void(const void*)>& f) {
  if (blank(body)) {
    if (!allow_empty) throw bad_request("A JSON object body is required");
    const json::value empty = json::object{};
    return f(&empty);
  }
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 64;
  auto v = json::parse(body, ec, {}, opt);
  if (ec) {
    // NaN and Infinity are not JSON, but clients (JavaScript, Python's json) write them: read them as
    // an out-of-range number, so that the answer is a 422 naming the field ("must be a finite number").
    if (auto spelled = non_finite_as_overflow(body)) {
      ec.clear();
      v = json::parse(*spelled, ec, {}, opt);
    }
    if (ec) throw bad_request("Malformed JSON: " + ec.message());
  }
  if (!v.is_object()) throw bad_request("The body must be a JSON object");
  f(&v);
}

bool visit_members(const void* json_value, const std::function<void(std::string_view, const void*)>& f) {
  const auto& v = *static_cast<const json::value*>(json_value);
  if (!v.is_object()) return false;
  for (const auto& kv : v.as_object()) f(kv.key(), &kv.value());
  return true;
}

bool visit_items(const void* json_value, const std::function<void(std::size_t, const void*)>& f) {
  const auto& v = *static_cast<const json::value*>(json_value);
  if (!v.is_array()) return false;
  std::size_t i = 0;
  for (const auto& item : v.as_array()) f(i++, &item);
  return true;
}

bool is_null(const void* json_value) { return static_cast<const json::value*>(json_value)->is_null(); }

std::string escape_like(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

bool is_rfc3339(std::string_view s) noexcept {
  static const std::regex re(
      R"(^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(s.begin(), s.end(), m, re)) return false;
  auto num = [&](int i) { return std::stoi(m[i].str()); };
  const int year = num(1), month = num(2), day = num(3);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > days[month - 1] || (month == 2 && day == 29 && !leap)) return false;
  if (num(4) > 23 || num(5) > 59 || num(6) > 60) return false;
  if (m[9].matched && (num(9) > 15 || num(10) > 59)) return false;
  return true;
}

}  // namespace spectra::kit
