#include "platform/http/static_site.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

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
}

void StaticSite::put(const std::string& path, std::string body, std::string content_type) {
  File f{std::move(body), std::move(content_type), {}, path.starts_with("/assets/")};
  f.etag = "\"" + crypto::to_hex(crypto::sha256(f.body)) + "\"";
  files_.insert_or_assign(path, std::move(f));
}

std::optional<Response> StaticSite::answer(std::string_view path, std::optional<std::string_view> if_none_match) const {
  auto it = files_.find(path == "/" ? std::string_view("/index.html") : path);
  if (it == files_.end()) {
    // A page of the app (/samples/42): no extension in its last segment, and not an API path.
    const auto last = path.substr(path.rfind('/') + 1);
    if (last.find('.') != std::string_view::npos || path.starts_with("/api/")) return std::nullopt;
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
