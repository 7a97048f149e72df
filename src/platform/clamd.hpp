#pragma once
// A client of ClamAV's daemon: streams bytes with INSTREAM over its unix socket and reads the verdict.
// Blocking (with a timeout): call it off the I/O threads.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace spectra::clamd {

struct Verdict {
  bool clean = true;
  std::string signature;  // when not clean: what clamd found ("Eicar-Test-Signature")
};

// Scans `bytes`. Throws std::runtime_error when clamd cannot be reached or answers something else than
// a verdict (the caller refuses the upload: an unscanned file is never stored).
Verdict scan(const std::string& socket_path, std::string_view bytes, std::chrono::seconds timeout);

}  // namespace spectra::clamd
