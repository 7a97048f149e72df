// libFuzzer: the CSV reader behind sample imports. Any bytes: read() answers a table or problems,
// never crashes; a table read cleanly is rectangular, and writing it back reads back the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kit/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spectra::kit;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto table = csv::read(text, 1000, 20);
  if (!table.problems.empty()) return 0;
  // A first cell that itself starts with a byte-order mark is not written back as it was read (the
  // reader takes one leading mark as the file's): the exporter's first cell is always its header "id".
  if (!table.header.empty() && table.header[0].starts_with("\xEF\xBB\xBF")) return 0;
  for (const auto& row : table.rows)
    if (row.size() != table.header.size()) std::abort();
  // Written by the exporter's own functions, the table reads back cell for cell.
  std::string out;
  std::vector<std::string_view> cells(table.header.begin(), table.header.end());
  csv::append_row(out, cells);
  for (const auto& row : table.rows) {
    cells.assign(row.begin(), row.end());
    csv::append_row(out, cells);
  }
  const auto again = csv::read(out, 1000, 20);
  if (!again.problems.empty() || again.header != table.header || again.rows != table.rows) std::abort();
  return 0;
}
