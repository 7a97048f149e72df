#pragma once
// Files stored by their content: each under its SHA-256 (DATA_DIR/ab/cd/abcd…), written once and
// atomically (a temporary file in the same folder, fsync, rename, fsync of the folder), so the same
// bytes are stored once and a reader never sees half a file. Blocking: call it off the I/O threads.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace spectra {

class ContentStore {
 public:
  // What put throws when the file system is full (ENOSPC) or the quota is spent (EDQUOT). As with any
  // failure of put, no temporary file is left behind and the caller must not name the bytes in a row;
  // other failures are plain std::system_errors.
  struct Full : std::system_error {
    using std::system_error::system_error;
  };

  // `synced`, when given, is told each path fsynced, in order (for the tests of durability).
  explicit ContentStore(std::filesystem::path root, std::function<void(const std::filesystem::path&)> synced = {})
      : root_(std::move(root)), synced_(std::move(synced)) {}
  // Stores `bytes` (unless they are there already); answers their SHA-256 in hex. Throws Full when
  // the disk has no room for them.
  std::string put(std::string_view bytes) const;
  // The bytes stored under `sha256_hex`, or nullopt.
  std::optional<std::string> get(std::string_view sha256_hex) const;
  std::filesystem::path path_of(std::string_view sha256_hex) const;
  // Writes, syncs and removes a scratch file: throws (Full, or std::system_error) when the store cannot
  // take bytes now (readiness).
  void probe() const;
  const std::filesystem::path& root() const noexcept { return root_; }

 private:
  // A new file in `folder` (its name `prefix` and a random tail) holding `bytes`, fsynced and closed;
  // answers its path. Throws (Full, or std::system_error) leaving nothing behind.
  std::string write_temp(const std::filesystem::path& folder, const std::string& prefix, std::string_view bytes) const;
  void sync(int fd, const std::filesystem::path& p) const;
  void sync_folder(const std::filesystem::path& p) const;
  std::filesystem::path root_;
  std::function<void(const std::filesystem::path&)> synced_;
};

}  // namespace spectra
