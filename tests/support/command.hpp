#pragma once
// Runs a shell command for a test (the CLI, PyJWT, openssl, curl) and returns what it printed.
#include <string>

namespace spectra::test {

// Standard output of `sh -c cmd`; *status gets pclose's status (0 when it exited 0).
std::string run_command(const std::string& cmd, int* status = nullptr);

}  // namespace spectra::test
