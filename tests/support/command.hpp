#pragma once
// Runs a shell command for a test (the CLI, PyJWT, openssl, curl) and returns what it printed.
#include <string>
#include <vector>

namespace spectra::test {

// Standard output of `sh -c cmd`; *status gets pclose's status (0 when it exited 0).
std::string run_command(const std::string& cmd, int* status = nullptr);
// What zbarimg (zbar-tools) reads off a PNG: one text per symbol it found, sorted. A missing zbarimg
// fails the calling test (scripts/bootstrap installs it).
std::vector<std::string> decode_symbols(const std::string& png);

}  // namespace spectra::test
