// libFuzzer: the G85 die bin map reader behind wafer map uploads. Any bytes: read_g85() answers a map or
// problems, never crashes; a map read cleanly is whole and consistent, writing it reads back the same, and
// whatever text ends up in a map, writing it still gives XML the reader accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "analysis/binmaps/g85.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace g85 = spectra::binmaps;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto read = g85::read_g85(text, std::size_t{1} << 20);
  if (read.map.has_value() != read.problems.empty()) std::abort();
  if (read.problems.size() > g85::max_problems + 1) std::abort();
  if (!read.map) return 0;
  const auto& map = *read.map;
  if (map.rows < 1 || map.columns < 1 || map.dies.size() != static_cast<std::size_t>(map.rows) * map.columns)
    std::abort();
  std::int64_t counted = 0;
  for (const auto& bin : map.bins) counted += bin.count;
  const auto yield = g85::yield_of(map);
  if (yield.pass > yield.tested || yield.tested > static_cast<std::int64_t>(map.dies.size())) std::abort();
  if (yield.tested > counted) std::abort();  // every die that is not null belongs to a declared Bin
  // Zero-padding can make the written file larger than what was read, hence the larger limit.
  const auto again = g85::read_g85(g85::write_g85(map), std::size_t{64} << 20);
  if (!again.map || !(*again.map == map)) std::abort();
  // Arbitrary bytes (control characters, broken UTF-8, markup) in the map's text still write well-formed XML.
  auto changed = map;
  changed.wafer_id = std::string(text.substr(0, 64));
  changed.other_device_attributes.emplace_back(std::string(text.substr(0, 16)), std::string(text.substr(0, 64)));
  if (!g85::read_g85(g85::write_g85(changed), std::size_t{64} << 20).map) std::abort();
  return 0;
}
