#pragma once
// SEMI G85 die bin maps: the XML wafer map a prober or a test house hands over with a lot, one bin code per
// die. Reading refuses what it cannot read exactly (and any DTD, so no entity is ever expanded); writing
// gives XML that reads back to the same map. Pure functions over strings.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spectra::binmaps {

// What read_g85 accepts at most; a file beyond any of these is refused, never truncated.
inline constexpr std::size_t default_max_bytes = std::size_t{16} << 20;
inline constexpr int max_depth = 32;            // element nesting
inline constexpr int max_side = 4096;           // Rows and Columns each
inline constexpr std::int64_t max_dies = 1'000'000;  // Rows x Columns
inline constexpr int max_bins = 4096;           // Bin elements
inline constexpr std::size_t max_attribute_chars = 1024;
inline constexpr std::size_t max_other_attributes = 64;  // per element, beyond the ones G85 names
inline constexpr std::size_t max_problems = 100;

struct Bin {
  std::string code;         // canonical: Decimal without leading zeros, HexaDecimal two upper-case digits,
                            // ASCII the character
  std::int64_t count = 0;   // BinCount as given (checked against the dies), or counted when the file has none
  std::string quality;      // BinQuality as given: "Pass", "Fail", ...
  std::string description;  // BinDescription

  friend bool operator==(const Bin&, const Bin&) = default;
};

struct BinMap {
  std::string wafer_id, lot_id, product_id, format_revision;
  std::string bin_type;  // "ASCII", "Decimal" or "HexaDecimal"
  std::string null_bin;  // canonical code of "no die"
  int rows = 0, columns = 0;
  std::optional<double> wafer_size, device_size_x, device_size_y;  // as given (mm)
  int orientation = 0, origin_location = 0;
  std::optional<int> reference_x, reference_y;
  std::vector<Bin> bins;          // in the file's order
  std::vector<std::string> dies;  // rows*columns, row-major from the first Row; null_bin for "no die"
  // Attributes G85 does not name here (CreateDate, SupplierName, xmlns:semi, ...), by their name in the file,
  // in the file's order, so that writing the map keeps them.
  std::vector<std::pair<std::string, std::string>> other_map_attributes, other_device_attributes;

  friend bool operator==(const BinMap&, const BinMap&) = default;
};

struct Problem {
  std::string where;    // "file", "Device.Rows", "Data", "Row 3", "Bin 2.BinCount", ...
  std::string message;  // "says 7, the map has 6", ...
};

struct Read {
  std::optional<BinMap> map;      // only when problems is empty
  std::vector<Problem> problems;  // at most max_problems (+1 saying that more were cut)
};

// Reads one G85 map (<Maps><Map>... or a bare <Map>, one Map and one Device), matching element and attribute
// names by local name so that a namespace prefix (semi:Map) does not matter. Never throws. Refused, each as
// a problem (several at once where the file allows): more than max_bytes (before parsing), XML that is not
// well-formed (expat's message and line), any document type declaration, nesting deeper than max_depth;
// Rows, Columns, BinType or NullBin missing or invalid, more than max_dies dies; a Bin without a valid
// BinCode, declared twice, or with a BinCount that is not what the map holds; more than max_bins Bins; a
// number of Row elements other than Rows, a Row with a number of dies other than Columns, a die code that
// is not valid in the BinType's notation or is neither declared by a Bin nor the NullBin; an attribute
// longer than max_attribute_chars; more than max_other_attributes unnamed attributes on Map or Device.
Read read_g85(std::string_view xml, std::size_t max_bytes = default_max_bytes);

// Writes the map as G85 XML (UTF-8, attributes escaped, each Row's codes in CDATA) that read_g85 reads back
// to an equal map, for any map read_g85 returned. Text that XML cannot carry (control characters, invalid
// UTF-8) becomes U+FFFD, and an unnamed attribute whose name is not an XML name or repeats one is left out,
// so the output is well-formed whatever the map holds.
std::string write_g85(const BinMap& map);

struct Yield {
  std::int64_t tested = 0;           // dies that are not null_bin
  std::int64_t pass = 0;             // dies whose Bin says BinQuality "Pass" (any case)
  std::optional<double> yield_pct;   // 100 * pass / tested; none when nothing was tested
};
Yield yield_of(const BinMap& map);

}  // namespace spectra::binmaps
