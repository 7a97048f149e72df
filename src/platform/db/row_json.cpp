#include "platform/db/row_json.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace spectra::db {
namespace {

// Type OIDs (pg_type.dat): stable across PostgreSQL versions.
enum : unsigned {
  bool_oid = 16,
  int8_oid = 20,
  int2_oid = 21,
  int4_oid = 23,
  oid_oid = 26,
  json_oid = 114,
  float4_oid = 700,
  float8_oid = 701,
  timestamp_oid = 1114,
  timestamptz_oid = 1184,
  numeric_oid = 1700,
  jsonb_oid = 3802,
};

// The element type of a one-dimensional array type the writer knows; 0 for any other type.
unsigned element_of(unsigned array_type) {
  switch (array_type) {
    case 1000: return bool_oid;
    case 1005: return int2_oid;
    case 1007: return int4_oid;
    case 1016: return int8_oid;
    case 1021: return float4_oid;
    case 1022: return float8_oid;
    case 1231: return numeric_oid;
    case 1115: return timestamp_oid;
    case 1185: return timestamptz_oid;
    case 199: return json_oid;
    case 3807: return jsonb_oid;
    case 1009:  // text[]
    case 1015:  // varchar[]
    case 2951:  // uuid[]
    case 1182:  // date[]
      return 25;
    default: return 0;
  }
}

// What PostgreSQL's JSON code accepts as a number (IsValidJsonNumber): to_jsonb writes any other
// numeric text (NaN, Infinity) as a string.
bool json_number(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const std::size_t int_start = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == int_start) return false;
  if (i - int_start > 1 && s[int_start] == '0') return false;
  if (i < s.size() && s[i] == '.') {
    const std::size_t f = ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == f) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t e = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == e) return false;
  }
  return i == s.size();
}

// "2026-12-07 01:02:03.5+00" (ISO text) as to_jsonb writes it: "2026-12-07T01:02:03.5+00:00".
void append_timestamp(std::string& out, std::string_view s, bool with_zone) {
  if (s.size() < 19 || s[10] != ' ' || !std::isdigit(static_cast<unsigned char>(s[0]))) {
    append_json_string(out, s);  // infinity, -infinity, a year beyond 9999 or BC: as PostgreSQL wrote it
    return;
  }
  out += '"';
  out.append(s.substr(0, 10));
  out += 'T';
  std::string_view rest = s.substr(11);
  if (with_zone) {
    const auto sign = rest.find_last_of("+-");
    if (sign != std::string_view::npos && rest.size() - sign == 3) {  // ±hh
      out.append(rest);
      out += ":00";
      out += '"';
      return;
    }
  }
  out.append(rest);
  out += '"';
}

void append_scalar(std::string& out, unsigned type, std::string_view text) {
  switch (type) {
    case bool_oid: out += text == "t" ? "true" : "false"; return;
    case int2_oid:
    case int4_oid:
    case int8_oid:
    case oid_oid: out.append(text); return;
    case float4_oid:
    case float8_oid:
    case numeric_oid:
      if (json_number(text)) out.append(text);
      else append_json_string(out, text);
      return;
    case json_oid:
    case jsonb_oid: out.append(text); return;
    case timestamptz_oid: append_timestamp(out, text, true); return;
    case timestamp_oid: append_timestamp(out, text, false); return;
    default: append_json_string(out, text);
  }
}

// A one-dimensional array literal ({a,"b c",NULL}) as a JSON array of its elements.
void append_array(std::string& out, unsigned element, std::string_view text) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') {
    append_json_string(out, text);  // not one-dimensional (bounds, nesting): as PostgreSQL wrote it
    return;
  }
  out += '[';
  std::size_t i = 1;
  const std::size_t end = text.size() - 1;
  bool first = true;
  std::string item;
  while (i < end) {
    if (!first) out += ',';
    first = false;
    item.clear();
    bool quoted = false;
    if (text[i] == '"') {
      quoted = true;
      for (++i; i < end && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < end) ++i;
        item += text[i];
      }
      ++i;  // the closing quote
    } else {
      const std::size_t comma = std::min(text.find(',', i), end);
      item.assign(text.substr(i, comma - i));
      i = comma;
    }
    if (i < end && text[i] == ',') ++i;
    if (!quoted && item == "NULL") out += "null";
    else append_scalar(out, element, item);
  }
  out += ']';
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  // Runs of characters that need no escape are appended whole: most text has none to escape.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (u) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[u >> 4];
        out += hex[u & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

RowJson::RowJson(const Result& r) : r_(r) {
  for (int c = 0; c < r.columns(); ++c) {
    const auto name = r.column_name(c);
    if (name.starts_with('_')) continue;
    std::string key;
    append_json_string(key, name);
    key += ':';
    columns_.push_back({c, r.column_type(c), std::move(key)});
  }
}

void RowJson::append(std::string& out, int row) const {
  out += '{';
  bool first = true;
  for (const auto& c : columns_) {
    if (!first) out += ',';
    first = false;
    out += c.key;
    if (r_.is_null(row, c.index)) {  // bounds checked: a row outside the result throws
      out += "null";
      continue;
    }
    const auto text = r_.get(row, c.index);
    if (const unsigned element = element_of(c.type)) append_array(out, element, text);
    else append_scalar(out, c.type, text);
  }
  out += '}';
}

std::string RowJson::operator()(int row) const {
  std::string out;
  append(out, row);
  return out;
}

std::string row_json(const Result& r, int row) { return RowJson(r)(row); }

}  // namespace spectra::db
