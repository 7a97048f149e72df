#include "kit/cursor.hpp"

#include <boost/json.hpp>
#include <regex>

#include "platform/crypto.hpp"
#include "platform/error.hpp"

namespace json = boost::json;

namespace spectra::kit {
namespace {

// A cursor value must read back as its sort key's type; anything else was not issued here (400,
// never a SQL error).
bool plausible(std::string_view type, const std::string& v) {
  static const std::regex ts(
      R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?[+-](0\d|1[0-5])(:[0-5]\d)?$)");
  static const std::regex number(R"(^-?\d{1,30}(\.\d{1,30})?$)");
  static const std::regex integer(R"(^-?\d{1,9}$)");
  static const std::regex date(R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$)");
  if (type == "timestamptz") return std::regex_match(v, ts);
  if (type == "integer") return std::regex_match(v, integer);
  if (type == "bigint" || type == "numeric") return std::regex_match(v, number);
  if (type == "date") return std::regex_match(v, date);
  return v.size() <= 1000 && v.find('\0') == std::string::npos;
}

ApiError not_issued() {
  return std::move(bad_request("cursor is not one this server issued").with_field("cursor", "invalid"));
}

}  // namespace

std::string encode_cursor(const Cursor& cursor) {
  const json::array a{json::string(cursor.sort), json::string(cursor.value), json::string(cursor.id)};
  return crypto::base64url_encode(json::serialize(a));
}

Cursor decode_cursor(std::string_view text, std::string_view sort, std::string_view key_type) {
  auto raw = crypto::base64url_decode(text);
  if (!raw) throw not_issued();
  boost::system::error_code ec;
  const json::value doc = json::parse(*raw, ec);
  const json::array* a = ec ? nullptr : doc.if_array();
  if (!a || a->size() != 3 || !(*a)[0].is_string() || !(*a)[1].is_string() || !(*a)[2].is_string()) throw not_issued();
  if ((*a)[0].as_string() != sort)
    throw std::move(bad_request("cursor belongs to another sort order (" + std::string((*a)[0].as_string()) +
                                "): pass the same sort").with_field("cursor", "belongs to another sort"));
  Cursor c{std::string((*a)[0].as_string()), std::string((*a)[1].as_string()), std::string((*a)[2].as_string())};
  if (!crypto::is_uuid(c.id) || !plausible(key_type, c.value)) throw not_issued();
  return c;
}

}  // namespace spectra::kit
