#pragma once
// Files stored by their content: each under its SHA-256 (DATA_DIR/ab/cd/abcd…), written once and
// atomically (a temporary file in the same folder, fsync, rename, fsync of the folder), so the same
// bytes are stored once and a reader never sees half a file. Blocking: call it off the I/O threads.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace spectra {

class ContentStore {
 public:
  explicit ContentStore(std::filesystem::path root) : root_(std::move(root)) {}
  // Stores `bytes` (unless they are there already); answers their SHA-256 in hex.
  std::string put(std::string_view bytes) const;
  // The bytes stored under `sha256_hex`, or nullopt.
  std::optional<std::string> get(std::string_view sha256_hex) const;
  std::filesystem::path path_of(std::string_view sha256_hex) const;
  const std::filesystem::path& root() const noexcept { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace spectra
