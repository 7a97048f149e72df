// libFuzzer: a sample's label as a Zebra printer receives it (ZPL) and as SVG. The input is the
// sample's name, then a NUL, then its barcode. A barcode outside the documented alphabet is refused
// (std::invalid_argument); otherwise the ZPL is one label (one ^XA, one ^XZ), no field's data can
// start a command (no ^ or ~ in it; the name's ^ ~ _ go as ^FH hex escapes) or hold a control
// character, and the SVG is a whole document.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "lims/samples/labels.hpp"

using namespace spectra;

namespace {

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  samples::LabelText label;
  label.name = std::string(input.substr(0, std::min<std::size_t>(nul, 800)));
  label.barcode = nul == std::string_view::npos ? "S-1" : std::string(input.substr(nul + 1, 80));
  std::string zpl;
  try {
    zpl = samples::render_label(label, samples::LabelFormat::zpl);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (count(zpl, "^XA") != 1 || count(zpl, "^XZ") != 1 || zpl.find('~') != std::string::npos) std::abort();
  for (auto at = zpl.find("^FD"); at != std::string::npos; at = zpl.find("^FD", at + 3)) {
    const auto end = zpl.find("^FS", at);
    if (end == std::string::npos) std::abort();
    for (std::size_t i = at + 3; i < end; ++i) {
      const auto c = static_cast<unsigned char>(zpl[i]);
      if (c == '^' || c < 0x20 || c == 0x7F) std::abort();
    }
  }
  if (size < 256) {
    const std::string svg = samples::render_label(label, samples::LabelFormat::svg);
    if (!svg.starts_with("<?xml") || svg.find("</svg>") == std::string::npos) std::abort();
  }
  return 0;
}
