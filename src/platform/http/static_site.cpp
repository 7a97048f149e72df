#include "platform/http/static_site.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <boost/json.hpp>

#include "platform/crypto.hpp"

namespace fs = std::filesystem;

namespace spectra::http {
namespace {

std::string content_type_of(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::vector<std::string> segments_of(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

StaticSite::StaticSite(const std::string& root, std::size_t max_bytes) {
  std::error_code ec;
  if (root.empty() || !fs::is_directory(root, ec)) return;
  std::size_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    total += body.size();
    if (total > max_bytes) throw std::runtime_error("the web app in " + root + " is larger than its limit");
    const std::string path = "/" + fs::relative(entry.path(), root).generic_string();
    put(path, std::move(body), content_type_of(entry.path()));
  }
  // The build's list of the app's page patterns (written by web/vite.config.ts).
  if (auto it = files_.find(std::string_view("/pages.json")); it != files_.end()) {
    const auto list = boost::json::parse(it->second.body);
    for (const auto& pattern : list.as_array()) pages_.push_back(segments_of(pattern.as_string()));
  }
}

bool StaticSite::is_page(std::string_view path) const {
  if (path == "/") return true;
  const auto segments = segments_of(path);
  for (const auto& page : pages_) {
    if (page.size() != segments.size()) continue;
    bool same = true;
    for (std::size_t i = 0; same && i < page.size(); ++i)
      same = page[i].starts_with(':') ? !segments[i].empty() : page[i] == segments[i];
    if (same) return true;
  }
  return false;
}

void StaticSite::put(const std::string& path, std::string body, std::string content_type) {
  File f{std::move(body), std::move(content_type), {}, path.starts_with("/assets/")};
  f.etag = "\"" + crypto::to_hex(crypto::sha256(f.body)) + "\"";
  files_.insert_or_assign(path, std::move(f));
}

std::optional<Response> StaticSite::answer(std::string_view path, std::optional<std::string_view> if_none_match) const {
  auto it = files_.find(path == "/" ? std::string_view("/index.html") : path);
  if (it == files_.end()) {
    if (!is_page(path)) return std::nullopt;
    it = files_.find(std::string_view("/index.html"));
    if (it == files_.end()) return std::nullopt;
  }
  const File& f = it->second;
  Response r;
  r.header("ETag", f.etag);
  r.header("Cache-Control", f.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (if_none_match && *if_none_match == f.etag) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.content_type = f.content_type;
  r.body = f.body;
  return r;
}

}  // namespace spectra::http
