#include "support/command.hpp"

#include <array>
#include <cstdio>

namespace spectra::test {

std::string run_command(const std::string& cmd, int* status) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (f && fgets(buf.data(), buf.size(), f)) out += buf.data();
  const int st = f ? pclose(f) : -1;
  if (status) *status = st;
  return out;
}

}  // namespace spectra::test
