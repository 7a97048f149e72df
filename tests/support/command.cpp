#include "support/command.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>

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

std::vector<std::string> decode_symbols(const std::string& png) {
  int found = 0;
  run_command("command -v zbarimg >/dev/null 2>&1", &found);
  if (found != 0) {
    ADD_FAILURE() << "zbarimg is not installed: install zbar-tools (scripts/bootstrap lists it)";
    return {};
  }
  static std::atomic<int> files{0};
  const auto path = std::filesystem::temp_directory_path() /
                    ("spectra-symbols-" + std::to_string(getpid()) + "-" + std::to_string(files++) + ".png");
  std::ofstream(path, std::ios::binary) << png;
  const std::string output = run_command("zbarimg --raw -q '" + path.string() + "' 2>/dev/null");
  std::filesystem::remove(path);
  std::vector<std::string> lines;
  for (std::size_t start = 0, end; (end = output.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(output.substr(start, end - start));
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace spectra::test
