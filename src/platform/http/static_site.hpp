#pragma once
// The web app's built files (WEB_ROOT), read into memory once at start: no disk I/O on a request.
// Vite names its bundles by their content (assets/index-3f9a1c.js), so files under assets/ are cached
// for a year; every other file, index.html above all, is revalidated on each use (ETag: its SHA-256).
// The app's pages are the path patterns its build lists in pages.json ("/samples/:id"; a ":name"
// segment matches any one segment): each answers index.html, and any other path is not the site's (a
// 404 problem), so that "/api/typo" or "/typo" never looks like success to a script.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/http/message.hpp"

namespace spectra::http {

class StaticSite {
 public:
  // Reads every regular file below root (at most max_bytes in all); an absent root is an empty site.
  explicit StaticSite(const std::string& root, std::size_t max_bytes = 64 << 20);
  bool empty() const noexcept { return files_.empty(); }
  std::size_t size() const noexcept { return files_.size(); }
  // The answer to GET `path` (decoded, no query), or nothing when the site has no such file or page.
  std::optional<Response> answer(std::string_view path, std::optional<std::string_view> if_none_match) const;
  // Adds (or replaces) a file made at start, such as the app's /config.json; revalidated on each use.
  void put(const std::string& path, std::string body, std::string content_type);
  // Whether `path` is one of the app's pages ("/" always is).
  bool is_page(std::string_view path) const;

 private:
  struct File {
    std::string body, content_type, etag;
    bool immutable = false;
  };
  std::map<std::string, File, std::less<>> files_;  // by path: "/index.html", "/assets/index-3f9a1c.js"
  std::vector<std::vector<std::string>> pages_;     // each page pattern's segments
};

}  // namespace spectra::http
