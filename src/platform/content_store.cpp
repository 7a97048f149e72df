#include "platform/content_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "platform/crypto.hpp"

namespace spectra {
namespace {

bool no_room(int error) { return error == ENOSPC || error == EDQUOT; }

[[noreturn]] void fail(const std::string& what) {
  const int error = errno;
  if (no_room(error)) throw ContentStore::Full(error, std::generic_category(), "content store: " + what);
  throw std::system_error(error, std::generic_category(), "content store: " + what);
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}


void create_folders(const std::filesystem::path& p) {
  try {
    std::filesystem::create_directories(p);
  } catch (const std::filesystem::filesystem_error& e) {
    if (no_room(e.code().value())) throw ContentStore::Full(e.code(), "content store: create " + p.string());
    throw;
  }
}

bool is_hex_digest(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::filesystem::path ContentStore::path_of(std::string_view hex) const {
  if (!is_hex_digest(hex)) throw std::invalid_argument("content store: not a SHA-256 digest");
  const std::string h(hex);
  return root_ / h.substr(0, 2) / h.substr(2, 2) / h;
}

void ContentStore::probe() const {
  create_folders(root_);
  const std::string temp = write_temp(root_, ".probe", "ready");
  ::unlink(temp.c_str());
}

std::string ContentStore::write_temp(const std::filesystem::path& folder, const std::string& prefix,
                                     std::string_view bytes) const {
  std::string temp = (folder / (prefix + "-XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) fail("create a temporary file in " + folder.string());
  bool fd_open = true;
  try {
    write_all(fd, bytes);
    sync(fd, temp);
    // A failed close() has released the descriptor all the same: it is never closed twice (another
    // thread may hold its number by then). NFS reports a full disk here.
    fd_open = false;
    if (::close(fd) != 0) fail("close");
  } catch (...) {
    if (fd_open) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  return temp;
}

std::string ContentStore::put(std::string_view bytes) const {
  const std::string hex = crypto::to_hex(crypto::sha256(bytes));
  const auto target = path_of(hex);
  std::error_code ec;
  if (std::filesystem::exists(target, ec)) return hex;  // the same bytes, stored once
  const auto folder = target.parent_path();
  // The folders a new file needs (ab/, ab/cd/) are made durable too: each new folder's entry is
  // fsynced in its parent, or a crash could lose a file whose row has committed.
  std::vector<std::filesystem::path> made;
  for (auto p = folder; !p.empty() && p != root_.parent_path() && !std::filesystem::exists(p, ec); p = p.parent_path())
    made.push_back(p);
  create_folders(folder);
  for (auto it = made.rbegin(); it != made.rend(); ++it) sync_folder(it->parent_path());
  const std::string temp = write_temp(folder, ".tmp-" + hex.substr(0, 16), bytes);
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    errno = saved;
    fail("rename into " + target.string());
  }
  sync_folder(folder);
  return hex;
}

void ContentStore::sync(int fd, const std::filesystem::path& p) const {
  if (::fsync(fd) != 0) fail("fsync " + p.string());
  if (synced_) synced_(p);
}

void ContentStore::sync_folder(const std::filesystem::path& p) const {
  const int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) fail("open " + p.string());
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail("fsync " + p.string());
  if (synced_) synced_(p);
}

std::optional<std::string> ContentStore::get(std::string_view hex) const {
  std::ifstream in(path_of(hex), std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace spectra
