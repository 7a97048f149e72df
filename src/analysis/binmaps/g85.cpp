#include "analysis/binmaps/g85.hpp"

// The format, as far as public text shows it (SEMI's own G85 document is not public):
// - artwork.com, "G85 Wafer Map Description" (www.artwork.com/package/wmapconvert/map_formats/G85/index.htm):
//   Maps > Map (WaferId, FormatRevision) > Device (LotId, Rows, Columns, Orientation, OriginLocation, BinType,
//   NullBin required) > Bin (BinCode, BinCount, BinQuality Pass/Fail, BinDescription), SupplierData, and
//   Data > Row; as many Rows as Rows says, as many codes in each as Columns says; no Bin for the null bin.
// - artwork.com, "G81/G85 Wafer Map Description (based on Micron TN0021)" (artwork.com/package/wlcsp/
//   wafer_map/G81/index.htm): BinType ASCII is one character per die; ReferenceDeviceX/Y; sizes as given.
// - Galaxy Examinator's G85 reader and writer (import_semi_g85_xml.cpp, FormatRevision "G85-1101"):
//   Decimal rows as "255 001 001 ..." in CDATA with NullBin="255"; BinType recognised by its "Hexa" prefix
//   in any case.
// - The g85 Python package (pypi.org/project/g85): a Row is split at whitespace when it has any, else into
//   characters; Rows sit inside Data.
// - SEMI E142 maps, which took over G85's BinType names: BinType="HexaDecimal" NullBin="FF", two hex digits
//   per die with no separator.
// So: Decimal codes are whitespace-separated numbers ("001" is 1); HexaDecimal codes are two hex digits, in
// groups without separators (whitespace between groups is allowed); ASCII codes are one printable character
// each, whitespace between them ignored (so a space cannot be a code).

#include <expat.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "platform/utf8.hpp"
#include "platform/xml_text.hpp"

namespace spectra::binmaps {
namespace {

constexpr auto npos = std::string_view::npos;
constexpr std::string_view xml_spaces = " \t\r\n";
constexpr std::size_t max_decimal_digits = 9;
// A Row's text may be padded and spaced generously, but not without bound: 16 characters a die is four
// times what a zero-padded Decimal map written with spaces needs.
constexpr std::size_t row_chars_per_die = 16;
constexpr std::size_t row_chars_slack = 1024;
constexpr std::size_t parse_chunk = std::size_t{1} << 20;  // XML_Parse takes an int length

constexpr std::array<std::string_view, 2> map_names = {"WaferId", "FormatRevision"};
constexpr std::array<std::string_view, 11> device_names = {
    "ProductId", "LotId",          "WaferSize", "DeviceSizeX", "DeviceSizeY", "Rows",
    "Columns",   "OriginLocation", "BinType",   "NullBin",     "Orientation"};
constexpr std::array<std::string_view, 4> bin_names = {"BinCode", "BinCount", "BinQuality", "BinDescription"};
constexpr std::array<std::string_view, 2> reference_names = {"ReferenceDeviceX", "ReferenceDeviceY"};

enum class Notation { ascii, decimal, hexadecimal };

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool same_letters(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return upper(x) == upper(y);
         });
}

std::string_view trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(xml_spaces);
  if (first == npos) return {};
  return s.substr(first, s.find_last_not_of(xml_spaces) - first + 1);
}

// A G85 file may put its elements and attributes in a namespace under any prefix (semi:Map), so names are
// compared without it. Namespace declarations keep their whole name: they are attributes to keep as they are.
std::string_view key_of(std::string_view qname) {
  if (qname == "xmlns" || qname.starts_with("xmlns:")) return qname;
  const auto colon = qname.rfind(':');
  return colon == npos ? qname : qname.substr(colon + 1);
}


// A value quoted for a message, cut (on a character boundary) so a megabyte of junk stays a short message.
std::string quoted(std::string_view value) {
  constexpr std::size_t most = 40;
  if (value.size() <= most) return "\"" + std::string(value) + "\"";
  auto cut = most;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(value.substr(0, cut)) + "...\"";
}

std::optional<Notation> notation_of(std::string_view bin_type) {
  // "Hexadecimal" and "Ascii" appear in files as well as the spellings G85 gives.
  if (same_letters(bin_type, "ASCII")) return Notation::ascii;
  if (same_letters(bin_type, "Decimal")) return Notation::decimal;
  if (same_letters(bin_type, "HexaDecimal")) return Notation::hexadecimal;
  return std::nullopt;
}

std::string_view name_of(Notation notation) {
  switch (notation) {
    case Notation::ascii: return "ASCII";
    case Notation::decimal: return "Decimal";
    case Notation::hexadecimal: return "HexaDecimal";
  }
  return {};
}

std::string not_a_code(std::string_view raw, Notation notation) {
  std::string rule;
  switch (notation) {
    case Notation::ascii: rule = "one printable ASCII character"; break;
    case Notation::decimal: rule = "a whole number of at most 9 digits"; break;
    case Notation::hexadecimal: rule = "two hexadecimal digits"; break;
  }
  return quoted(raw) + " is not a " + std::string(name_of(notation)) + " bin code (" + rule + ")";
}

// The one spelling of a code that dies, Bins and NullBin are compared by, or nothing when `raw` is not a
// code in that notation.
std::optional<std::string> canonical(std::string_view raw, Notation notation) {
  switch (notation) {
    case Notation::ascii:
      if (raw.size() == 1 && raw[0] > ' ' && raw[0] < 0x7F) return std::string(raw);
      return std::nullopt;
    case Notation::hexadecimal:
      if (raw.size() != 2 || !is_hex(raw[0]) || !is_hex(raw[1])) return std::nullopt;
      return std::string{upper(raw[0]), upper(raw[1])};
    case Notation::decimal: {
      if (raw.empty() || !std::all_of(raw.begin(), raw.end(), is_digit)) return std::nullopt;
      const auto first = raw.find_first_not_of('0');
      const auto digits = first == npos ? std::string_view("0") : raw.substr(first);
      if (digits.size() > max_decimal_digits) return std::nullopt;
      return std::string(digits);
    }
  }
  return std::nullopt;
}

template <typename T>
std::optional<T> number(std::string_view text) {
  text = trimmed(text);
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>)
    if (!std::isfinite(value)) return std::nullopt;
  return value;
}

// The attributes G85 names for one element, by local name; valid only inside the expat call-back.
using Named = std::vector<std::pair<std::string_view, std::string_view>>;

std::optional<std::string_view> find(const Named& named, std::string_view name) {
  for (const auto& [key, value] : named)
    if (key == name) return value;
  return std::nullopt;
}

std::string text_of(const Named& named, std::string_view name) { return std::string(find(named, name).value_or("")); }

// One pass of expat over the file: each element lands in the map as it opens, each Row is decoded as it
// closes, and the cross-checks (declared codes, BinCounts) run once at the end.
class Reader {
 public:
  explicit Reader(XML_Parser parser) : parser_(parser) {}

  static void XMLCALL on_start(void* self, const XML_Char* name, const XML_Char** attributes) {
    static_cast<Reader*>(self)->start(name, attributes);
  }
  static void XMLCALL on_end(void* self, const XML_Char*) { static_cast<Reader*>(self)->end(); }
  static void XMLCALL on_text(void* self, const XML_Char* text, int length) {
    static_cast<Reader*>(self)->text(std::string_view(text, static_cast<std::size_t>(length)));
  }
  // Refusing the DTD as it starts means no entity is ever declared, so none can be expanded (billion
  // laughs) or fetched (an external entity naming a file or a URL).
  static void XMLCALL on_doctype(void* self, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    static_cast<Reader*>(self)->stop("file", "a document type declaration (DTD) is not allowed");
  }
  // Unreachable while DTDs are refused; here so that a change to the above cannot let entities in.
  static void XMLCALL on_entity(void* self, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                                const XML_Char*, const XML_Char*, const XML_Char*) {
    static_cast<Reader*>(self)->stop("file", "an entity declaration is not allowed");
  }

  void parse(std::string_view xml) {
    auto status = XML_STATUS_OK;
    std::size_t offset = 0;
    do {
      const auto length = std::min(parse_chunk, xml.size() - offset);
      const bool last = offset + length == xml.size();
      status = XML_Parse(parser_, xml.data() + offset, static_cast<int>(length), last ? XML_TRUE : XML_FALSE);
      offset += length;
    } while (status == XML_STATUS_OK && offset < xml.size());
    if (status != XML_STATUS_OK) {
      if (XML_GetErrorCode(parser_) != XML_ERROR_ABORTED)  // aborted: stop() has said why
        add("file", "is not well-formed XML: line " + std::to_string(XML_GetCurrentLineNumber(parser_)) +
                        ", column " + std::to_string(XML_GetCurrentColumnNumber(parser_) + 1) + ": " +
                        XML_ErrorString(XML_GetErrorCode(parser_)));
      return;
    }
    finish();
  }

  Read result() && {
    Read read;
    if (problems_.empty()) read.map = std::move(map_);
    read.problems = std::move(problems_);
    return read;
  }

 private:
  enum class Kind { maps, map, device, reference, bin, data, row, other };

  // Expat may still make a call-back or two after XML_StopParser; each returns at once when stopped_ is set.
  void stop(std::string where, std::string message) {
    if (stopped_) return;
    add(std::move(where), std::move(message));
    stopped_ = true;
    XML_StopParser(parser_, XML_FALSE);
  }

  void add(std::string where, std::string message) {
    if (problems_.size() < max_problems) problems_.push_back({std::move(where), std::move(message)});
    else if (problems_.size() == max_problems)
      problems_.push_back({"file", "has more problems than the " + std::to_string(max_problems) + " listed"});
  }

  void start(std::string_view qname, const XML_Char** attributes) {
    if (stopped_) return;
    if (stack_.size() >= static_cast<std::size_t>(max_depth))
      return stop("file", "has elements nested more than " + std::to_string(max_depth) + " deep");
    const auto name = key_of(qname);
    auto kind = Kind::other;
    if (stack_.empty()) {
      if (name == "Maps") kind = Kind::maps;
      else if (name == "Map") kind = Kind::map;
      else return stop("file", "has the root element " + quoted(qname) + "; a G85 map starts with Maps or Map");
    } else {
      const auto parent = stack_.back();
      if (parent == Kind::maps && name == "Map") kind = Kind::map;
      else if (parent == Kind::map && name == "Device") kind = Kind::device;
      else if (parent == Kind::device && name == "ReferenceDevice") kind = Kind::reference;
      else if (parent == Kind::device && name == "Bin") kind = Kind::bin;
      else if (parent == Kind::device && name == "Data") kind = Kind::data;
      else if (parent == Kind::data && name == "Row") kind = Kind::row;
    }
    // One file is one wafer: a second Map, Device, Data or ReferenceDevice is refused rather than dropped.
    const auto once = [&](Kind which, bool& seen, const char* where, const char* message) {
      if (kind != which || !std::exchange(seen, true)) return;
      add(where, message);
      kind = Kind::other;
    };
    once(Kind::map, seen_map_, "file", "holds more than one Map");
    once(Kind::device, seen_device_, "Map", "holds more than one Device");
    once(Kind::data, seen_data_, "Device", "holds more than one Data element");
    once(Kind::reference, seen_reference_, "Device", "holds more than one ReferenceDevice");
    stack_.push_back(kind);
    switch (kind) {
      case Kind::map: start_map(attributes); break;
      case Kind::device: start_device(attributes); break;
      case Kind::reference: start_reference(attributes); break;
      case Kind::bin: start_bin(attributes); break;
      case Kind::row: start_row(); break;
      default: break;
    }
  }

  void end() {
    if (stopped_ || stack_.empty()) return;
    if (stack_.back() == Kind::row) end_row();
    stack_.pop_back();
  }

  void text(std::string_view text) {
    if (stopped_ || !collecting_ || stack_.back() != Kind::row || row_too_long_) return;
    if (row_text_.size() + text.size() > row_limit_) {
      row_too_long_ = true;
      return add("Row " + std::to_string(row_elements_), "has more than " + std::to_string(row_limit_) +
                                                           " characters for " + std::to_string(map_.columns) +
                                                           " dies");
    }
    row_text_ += text;
  }

  // Sorts an element's attributes into those G85 names (returned) and the rest (kept in `others` when the
  // map keeps them); the same name under two prefixes is a problem, as is a value beyond the limit.
  Named sort_attributes(const std::string& element, const XML_Char** attributes,
                        std::span<const std::string_view> names,
                        std::vector<std::pair<std::string, std::string>>* others) {
    Named named;
    std::size_t other_count = 0;
    for (auto a = attributes; a[0] != nullptr; a += 2) {
      const std::string_view qname = a[0], value = a[1];
      const auto key = key_of(qname);
      const auto known = std::find(names.begin(), names.end(), key);
      const auto where = element + "." + std::string(known != names.end() ? key : qname);
      if (value.size() > max_attribute_chars) {
        add(where, "is longer than " + std::to_string(max_attribute_chars) + " characters");
      } else if (known != names.end()) {
        if (find(named, key)) add(where, "is given twice");
        else named.emplace_back(*known, value);
      } else if (others && ++other_count > max_other_attributes) {
        if (other_count == max_other_attributes + 1)
          add(element, "has more than " + std::to_string(max_other_attributes) + " attributes G85 does not name");
      } else if (others) {
        others->emplace_back(qname, value);
      }
    }
    return named;
  }

  std::optional<int> whole_attribute(const Named& named, std::string_view name, int low, int high, bool required) {
    const auto where = "Device." + std::string(name);
    const auto value = find(named, name);
    if (!value) {
      if (required) add(where, "is missing");
      return std::nullopt;
    }
    const auto parsed = number<int>(*value);
    if (parsed && *parsed >= low && *parsed <= high) return parsed;
    if (low == INT_MIN) add(where, quoted(*value) + " is not a whole number");
    else add(where, quoted(*value) + " is not a whole number from " + std::to_string(low) + " to " +
                        std::to_string(high));
    return std::nullopt;
  }

  std::optional<double> size_attribute(const Named& named, std::string_view name) {
    const auto value = find(named, name);
    if (!value) return std::nullopt;
    const auto parsed = number<double>(*value);
    if (parsed && *parsed >= 0) return parsed;
    add("Device." + std::string(name), quoted(*value) + " is not a number of at least 0");
    return std::nullopt;
  }

  void start_map(const XML_Char** attributes) {
    const auto named = sort_attributes("Map", attributes, map_names, &map_.other_map_attributes);
    map_.wafer_id = text_of(named, "WaferId");
    map_.format_revision = text_of(named, "FormatRevision");
  }

  void start_device(const XML_Char** attributes) {
    const auto named = sort_attributes("Device", attributes, device_names, &map_.other_device_attributes);
    map_.product_id = text_of(named, "ProductId");
    map_.lot_id = text_of(named, "LotId");
    map_.wafer_size = size_attribute(named, "WaferSize");
    map_.device_size_x = size_attribute(named, "DeviceSizeX");
    map_.device_size_y = size_attribute(named, "DeviceSizeY");
    map_.orientation = whole_attribute(named, "Orientation", INT_MIN, INT_MAX, false).value_or(0);
    map_.origin_location = whole_attribute(named, "OriginLocation", INT_MIN, INT_MAX, false).value_or(0);
    const auto rows = whole_attribute(named, "Rows", 1, max_side, true);
    const auto columns = whole_attribute(named, "Columns", 1, max_side, true);
    if (rows && columns) {
      if (std::int64_t{*rows} * *columns > max_dies)
        add("Device", "Rows x Columns is " + std::to_string(std::int64_t{*rows} * *columns) + " dies, more than " +
                          std::to_string(max_dies));
      else map_.rows = *rows, map_.columns = *columns;
    }
    const auto bin_type = find(named, "BinType");
    if (bin_type) notation_ = notation_of(trimmed(*bin_type));
    if (!bin_type) add("Device.BinType", "is missing");
    else if (!notation_) add("Device.BinType", quoted(*bin_type) + " is not ASCII, Decimal or HexaDecimal");
    else map_.bin_type = name_of(*notation_);
    // NullBin is a code in BinType's notation: it cannot be judged without one.
    const auto null_bin = find(named, "NullBin");
    if (!null_bin) add("Device.NullBin", "is missing");
    else if (notation_) {
      if (auto code = canonical(trimmed(*null_bin), *notation_)) map_.null_bin = std::move(*code);
      else add("Device.NullBin", not_a_code(*null_bin, *notation_));
    }
    header_ok_ = map_.rows > 0 && notation_ && !map_.null_bin.empty();
    row_limit_ = static_cast<std::size_t>(map_.columns > 0 ? map_.columns : max_side) * row_chars_per_die +
                 row_chars_slack;
  }

  void start_reference(const XML_Char** attributes) {
    const auto named = sort_attributes("ReferenceDevice", attributes, reference_names, nullptr);
    const auto take = [&](std::string_view name, std::optional<int>& field) {
      const auto value = find(named, name);
      if (!value) return;
      field = number<int>(*value);
      if (!field) add("ReferenceDevice." + std::string(name), quoted(*value) + " is not a whole number");
    };
    take("ReferenceDeviceX", map_.reference_x);
    take("ReferenceDeviceY", map_.reference_y);
  }

  void start_bin(const XML_Char** attributes) {
    const int index = ++bin_elements_;
    const auto where = "Bin " + std::to_string(index);
    if (index > max_bins)
      return stop(where, "is one more than the " + std::to_string(max_bins) + " Bins a map may hold");
    const auto named = sort_attributes(where, attributes, bin_names, nullptr);
    Bin bin;
    bin.quality = text_of(named, "BinQuality");
    bin.description = text_of(named, "BinDescription");
    std::optional<std::int64_t> given;
    if (const auto count = find(named, "BinCount")) {
      given = number<std::int64_t>(*count);
      if (!given || *given < 0) add(where + ".BinCount", quoted(*count) + " is not a whole number of at least 0");
    }
    const auto code = find(named, "BinCode");
    if (!code) {
      add(where + ".BinCode", "is missing");
    } else if (!notation_) {
      bin.code = *code;  // BinType is already a problem; the code cannot be read without it
    } else if (auto canonical_code = canonical(trimmed(*code), *notation_)) {
      const auto [first, fresh] = declared_.try_emplace(*canonical_code, index);
      if (!fresh)
        add(where + ".BinCode",
            "bin code " + *canonical_code + " is already declared by Bin " + std::to_string(first->second));
      bin.code = std::move(*canonical_code);
    } else {
      add(where + ".BinCode", not_a_code(*code, *notation_));
    }
    map_.bins.push_back(std::move(bin));
    given_counts_.push_back(given);
  }

  void start_row() {
    ++row_elements_;
    collecting_ = header_ok_ && row_elements_ <= map_.rows;
    row_text_.clear();
    row_too_long_ = false;
  }

  // Every Row within Rows adds exactly Columns dies (a short or bad one padded with the null bin) so that die
  // i stays in Row i / Columns + 1 for the checks at the end; a padded map is never returned.
  void end_row() {
    if (!std::exchange(collecting_, false)) return;
    const auto first_die = map_.dies.size();
    if (row_too_long_) rows_clean_ = false;
    else read_row("Row " + std::to_string(row_elements_));
    map_.dies.resize(first_die + static_cast<std::size_t>(map_.columns), map_.null_bin);
  }

  void read_row(const std::string& where) {
    const auto columns = static_cast<std::size_t>(map_.columns);
    std::size_t count = 0;
    bool bad = false;
    const auto take = [&](std::string_view raw) {
      ++count;
      auto code = canonical(raw, *notation_);
      if (!code && !std::exchange(bad, true))
        add(where, "die " + std::to_string(count) + ": " + not_a_code(raw, *notation_));
      if (count <= columns) map_.dies.push_back(code ? std::move(*code) : map_.null_bin);
    };
    const std::string_view text = row_text_;
    for (std::size_t i = 0; i < text.size();) {
      if (is_space(text[i])) {
        ++i;
        continue;
      }
      auto end = i;
      while (end < text.size() && !is_space(text[end])) ++end;
      const auto group = text.substr(i, end - i);
      i = end;
      switch (*notation_) {
        case Notation::decimal: take(group); break;
        case Notation::ascii:
          // expat hands over UTF-8, so a character beyond ASCII is taken whole (and refused whole).
          for (std::size_t k = 0; k < group.size();) {
            const auto length = std::max<std::size_t>(1, std::min(utf8::sequence_length(group, k), group.size() - k));
            take(group.substr(k, length));
            k += length;
          }
          break;
        case Notation::hexadecimal:
          if (group.size() % 2 != 0 && !std::exchange(bad, true))
            add(where, quoted(group) + " has an odd number of hexadecimal digits; each die takes two");
          for (std::size_t k = 0; k + 1 < group.size(); k += 2) take(group.substr(k, 2));
          break;
      }
    }
    if (bad) rows_clean_ = false;
    if (count != columns) {
      add(where, "has " + std::to_string(count) + " dies, Columns says " + std::to_string(columns));
      rows_clean_ = false;
    }
  }

  void finish() {
    if (!seen_map_) return add("file", "holds no Map");
    if (!seen_device_) return add("Map", "holds no Device");
    if (!seen_data_) add("Device", "holds no Data element");
    if (!header_ok_) return;
    if (seen_data_ && row_elements_ != map_.rows) {
      add("Data", "has " + std::to_string(row_elements_) + " Row elements, Rows says " + std::to_string(map_.rows));
      rows_clean_ = false;
    }
    std::unordered_map<std::string_view, std::int64_t> counted;
    std::unordered_set<std::string_view> reported;
    const auto columns = static_cast<std::size_t>(map_.columns);
    for (std::size_t i = 0; i < map_.dies.size(); ++i) {
      const auto& code = map_.dies[i];
      ++counted[code];
      if (code != map_.null_bin && !declared_.contains(code) && reported.insert(code).second)
        add("Row " + std::to_string(i / columns + 1), "bin code " + code + " is not declared");
    }
    // A count is only worth comparing against a map that was read whole.
    if (!rows_clean_ || !seen_data_) return;
    for (std::size_t i = 0; i < map_.bins.size(); ++i) {
      if (map_.bins[i].code.empty()) continue;  // no valid BinCode: already a problem
      const auto found = counted.find(map_.bins[i].code);
      const std::int64_t in_map = found == counted.end() ? 0 : found->second;
      if (!given_counts_[i]) map_.bins[i].count = in_map;
      else if (*given_counts_[i] >= 0 && *given_counts_[i] != in_map)
        add("Bin " + std::to_string(i + 1) + ".BinCount",
            "says " + std::to_string(*given_counts_[i]) + ", the map has " + std::to_string(in_map));
      else map_.bins[i].count = *given_counts_[i];
    }
  }

  XML_Parser parser_;
  BinMap map_;
  std::vector<Problem> problems_;
  bool stopped_ = false;
  std::vector<Kind> stack_;
  bool seen_map_ = false, seen_device_ = false, seen_data_ = false, seen_reference_ = false;
  std::optional<Notation> notation_;
  bool header_ok_ = false;  // Rows, Columns, BinType and NullBin all read, so Rows can be decoded
  int bin_elements_ = 0;
  std::unordered_map<std::string, int> declared_;  // canonical code -> the Bin (from 1) that declared it
  std::vector<std::optional<std::int64_t>> given_counts_;
  int row_elements_ = 0;
  bool collecting_ = false, row_too_long_ = false, rows_clean_ = true;
  std::size_t row_limit_ = 0;
  std::string row_text_;
};

void append_attribute(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  xml::append_text(out, value, xml::Escape::attribute);
  out += '"';
}

// Whether `name` can be written as an attribute name. Beyond ASCII, XML's name rules depend on the edition,
// so expat itself is asked: what it accepts here it accepts when the map is read back.
bool is_attribute_name(std::string_view name) {
  const auto ascii = [](char c) { return static_cast<unsigned char>(c) < 0x80; };
  const auto starts = [&](char c) { return !ascii(c) || is_letter(c) || c == '_' || c == ':'; };
  const auto continues = [&](char c) { return starts(c) || is_digit(c) || c == '.' || c == '-'; };
  if (name.empty() || !starts(name[0]) || !std::all_of(name.begin(), name.end(), continues)) return false;
  if (std::all_of(name.begin(), name.end(), ascii)) return true;
  const std::string probe = "<a " + std::string(name) + "=\"\"/>";
  const std::unique_ptr<std::remove_pointer_t<XML_Parser>, decltype(&XML_ParserFree)> parser(XML_ParserCreate(nullptr),
                                                                                             &XML_ParserFree);
  return parser && XML_Parse(parser.get(), probe.data(), static_cast<int>(probe.size()), XML_TRUE) == XML_STATUS_OK;
}

// Attributes G85 does not name, left out when they would clash with a named one (which the reader would take
// as that one) or with each other, or could not be read back at all.
void append_others(std::string& out, const std::vector<std::pair<std::string, std::string>>& others,
                   std::span<const std::string_view> names) {
  std::unordered_set<std::string_view> written;
  for (const auto& [name, value] : others) {
    if (std::find(names.begin(), names.end(), key_of(name)) != names.end()) continue;
    if (!is_attribute_name(name) || !written.insert(name).second) continue;
    append_attribute(out, name, value);
  }
}

void append_number(std::string& out, std::string_view name, const std::optional<double>& value) {
  if (!value) return;
  std::array<char, 32> digits{};
  const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), *value).ptr;  // shortest exact form
  append_attribute(out, name, std::string_view(digits.data(), static_cast<std::size_t>(end - digits.data())));
}

// CDATA cannot hold "]]>" (ASCII codes ']' ']' '>' in a row), so the section is closed and reopened there.
void append_cdata(std::string& out, std::string_view text) {
  std::string safe;
  xml::append_text(safe, text, xml::Escape::cdata);
  out += "<![CDATA[";
  for (std::size_t from = 0;;) {
    const auto at = safe.find("]]>", from);
    if (at == std::string::npos) {
      out.append(safe, from);
      break;
    }
    out.append(safe, from, at - from + 2);
    out += "]]><![CDATA[";
    from = at + 2;
  }
  out += "]]>";
}

}  // namespace

Read read_g85(std::string_view xml, std::size_t max_bytes) {
  if (xml.size() > max_bytes) {
    return {std::nullopt, {{"file", "is " + std::to_string(xml.size()) + " bytes, more than the " +
                                        std::to_string(max_bytes) + " a map may have"}}};
  }
  // Without a namespace-processing parser, "semi:Map" arrives as it is written and key_of() drops the prefix;
  // namespace declarations then arrive as plain attributes, which is how the map keeps them.
  const std::unique_ptr<std::remove_pointer_t<XML_Parser>, decltype(&XML_ParserFree)> parser(XML_ParserCreate(nullptr),
                                                                                             &XML_ParserFree);
  if (!parser) return {std::nullopt, {{"file", "could not be read: the XML parser could not start"}}};
  Reader reader(parser.get());
  XML_SetUserData(parser.get(), &reader);
  XML_SetElementHandler(parser.get(), &Reader::on_start, &Reader::on_end);
  XML_SetCharacterDataHandler(parser.get(), &Reader::on_text);
  XML_SetStartDoctypeDeclHandler(parser.get(), &Reader::on_doctype);
  XML_SetEntityDeclHandler(parser.get(), &Reader::on_entity);
  XML_SetParamEntityParsing(parser.get(), XML_PARAM_ENTITY_PARSING_NEVER);
  // No external entity reference handler is ever set: expat then loads nothing from outside the text.
  reader.parse(xml);
  return std::move(reader).result();
}

std::string write_g85(const BinMap& map) {
  const bool decimal = map.bin_type == "Decimal";
  // Decimal codes are zero-padded to one width so the columns line up when a person opens the file.
  std::size_t width = decimal ? map.null_bin.size() : 0;
  if (decimal)
    for (const auto& die : map.dies) width = std::max(width, die.size());

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Maps>\n  <Map";
  append_attribute(out, "WaferId", map.wafer_id);
  append_attribute(out, "FormatRevision", map.format_revision);
  append_others(out, map.other_map_attributes, map_names);
  out += ">\n    <Device";
  append_attribute(out, "ProductId", map.product_id);
  append_attribute(out, "LotId", map.lot_id);
  append_number(out, "WaferSize", map.wafer_size);
  append_number(out, "DeviceSizeX", map.device_size_x);
  append_number(out, "DeviceSizeY", map.device_size_y);
  append_attribute(out, "Rows", std::to_string(map.rows));
  append_attribute(out, "Columns", std::to_string(map.columns));
  append_attribute(out, "Orientation", std::to_string(map.orientation));
  append_attribute(out, "OriginLocation", std::to_string(map.origin_location));
  append_attribute(out, "BinType", map.bin_type);
  append_attribute(out, "NullBin", map.null_bin);
  append_others(out, map.other_device_attributes, device_names);
  out += ">\n";
  if (map.reference_x || map.reference_y) {
    out += "      <ReferenceDevice";
    if (map.reference_x) append_attribute(out, "ReferenceDeviceX", std::to_string(*map.reference_x));
    if (map.reference_y) append_attribute(out, "ReferenceDeviceY", std::to_string(*map.reference_y));
    out += "/>\n";
  }
  for (const auto& bin : map.bins) {
    out += "      <Bin";
    append_attribute(out, "BinCode", bin.code);
    append_attribute(out, "BinCount", std::to_string(bin.count));
    append_attribute(out, "BinQuality", bin.quality);
    append_attribute(out, "BinDescription", bin.description);
    out += "/>\n";
  }
  out += "      <Data>\n";
  std::string row;
  for (std::size_t r = 0; r < static_cast<std::size_t>(std::max(map.rows, 0)); ++r) {
    row.clear();
    for (std::size_t c = 0; c < static_cast<std::size_t>(std::max(map.columns, 0)); ++c) {
      const auto index = r * static_cast<std::size_t>(map.columns) + c;
      const auto& code = index < map.dies.size() ? map.dies[index] : map.null_bin;
      if (decimal) {
        if (c > 0) row += ' ';
        row.append(width - std::min(width, code.size()), '0');
      }
      row += code;
    }
    out += "        <Row>";
    append_cdata(out, row);
    out += "</Row>\n";
  }
  out += "      </Data>\n    </Device>\n  </Map>\n</Maps>\n";
  return out;
}

Yield yield_of(const BinMap& map) {
  std::unordered_set<std::string_view> passing;
  for (const auto& bin : map.bins)
    if (same_letters(bin.quality, "Pass")) passing.insert(bin.code);
  Yield yield;
  for (const auto& die : map.dies) {
    if (die == map.null_bin) continue;
    ++yield.tested;
    if (passing.contains(die)) ++yield.pass;
  }
  if (yield.tested > 0) yield.yield_pct = 100.0 * static_cast<double>(yield.pass) / static_cast<double>(yield.tested);
  return yield;
}

}  // namespace spectra::binmaps
