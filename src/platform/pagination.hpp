#pragma once
// Keyset pagination over (created_at, id), newest first: ?limit= (default 50, max 500) and an opaque
// ?cursor= from the previous page; lists answer {"items": [...], "next_cursor": "…" | null}.
#include <optional>
#include <string>

#include "platform/db/result.hpp"
#include "platform/http/message.hpp"

namespace spectra {

struct Page {
  int limit = 50;
  std::optional<std::string> after_created_at;  // from the cursor
  std::optional<std::string> after_id;
};

// 400 for a limit that is not a whole number from 1 to 500, or a cursor we did not issue.
Page parse_page(const http::Request& req);

// Rows of (json, created_at text, id) fetched with LIMIT page.limit + 1 → the list document.
std::string page_json(const db::Result& rows, const Page& page);

// A query parameter that must be a UUID when present (400 otherwise).
std::optional<std::string> uuid_param(const http::Request& req, std::string_view name);
// A path parameter that must be a UUID: anything else is simply absent (404).
std::string uuid_path_param(const http::Request& req, std::string_view name);

}  // namespace spectra
