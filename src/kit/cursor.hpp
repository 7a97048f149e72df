#pragma once
// A list's page cursor: opaque to clients (base64url of the JSON array [sort, last value, last id]),
// issued with a page and read back with the next request. Pure: no I/O.
#include <string>
#include <string_view>

namespace spectra::kit {

struct Cursor {
  std::string sort;   // the sort it was issued for ("-created_at")
  std::string value;  // the last row's sort key, as text
  std::string id;     // the last row's id (a UUID)
};

std::string encode_cursor(const Cursor& cursor);
// The cursor a client sent back for a list sorted by `sort`, whose key is of SQL type `key_type`
// (timestamptz, integer, bigint, numeric, date, or text). Throws a 400 ApiError naming the field
// "cursor" when it is not one this server issued, or was issued for another sort: never a value the
// database would refuse.
Cursor decode_cursor(std::string_view text, std::string_view sort, std::string_view key_type);

}  // namespace spectra::kit
