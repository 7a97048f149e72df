// Sample labels as a user checks them: a scanner (zbarimg, from zbar-tools) reads the symbols off the PNG,
// the PDF sheet has as many pages as the labels need, and ZPL holds one label per sample that no name can
// break out of.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lims/samples/labels.hpp"
#include "support/command.hpp"

using namespace spectra::samples;
using spectra::test::decode_symbols;

namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}


std::vector<std::string> twice(const std::string& barcode) { return {barcode, barcode}; }

std::uint32_t big_endian(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

// The value of an attribute in points, as cairo writes the SVG's size.
double attribute(const std::string& svg, const std::string& name) {
  const std::size_t at = svg.find(" " + name + "=\"");
  EXPECT_NE(at, std::string::npos) << name;
  return at == std::string::npos ? 0 : std::stod(svg.substr(at + name.size() + 3));
}

// Cairo writes text into SVG as glyph outlines, one <use> per character drawn.
std::size_t glyphs(const std::string& svg) { return count(svg, "<use xlink:href=\"#glyph"); }

std::size_t pages(const std::string& pdf) { return count(pdf, "/Type /Page") - count(pdf, "/Type /Pages"); }

std::vector<LabelText> numbered(int n) {
  std::vector<LabelText> labels;
  for (int i = 0; i < n; ++i) labels.push_back({"Probe " + std::to_string(i), "ACME-S-" + std::to_string(1000 + i)});
  return labels;
}

}  // namespace

TEST(Labels, PngScansAsQrCodeAndCode128) {
  EXPECT_EQ(decode_symbols(render_label({"Brunnen Süd", "K7M3-QX9P-R"}, LabelFormat::png)), twice("K7M3-QX9P-R"));
  EXPECT_EQ(decode_symbols(render_label({"Müller 日本 <&>", "ACME-S-0001"}, LabelFormat::png)), twice("ACME-S-0001"));
  EXPECT_EQ(decode_symbols(render_label({"every barcode character", "a.b_c/d:e-F9"}, LabelFormat::png)), twice("a.b_c/d:e-F9"));
  EXPECT_EQ(decode_symbols(render_label({"malformed \xFF\xC3 UTF-8", "X"}, LabelFormat::png)), twice("X"));
  const std::string longest_with_bars = "ACME-2024-WATER-000170000";
  EXPECT_EQ(decode_symbols(render_label({"Wasser", longest_with_bars}, LabelFormat::png)), twice(longest_with_bars));
}

// A 64-character Code 128 would need bars far narrower than 0.125 mm on the label (and zint's Code 128
// stops at 60 symbol characters), so such a label carries its barcode in the QR code alone.
TEST(Labels, LongestBarcodeScansFromTheQrCode) {
  const std::string barcode = "K7M3-QX9P-R.k7m3-qx9p-r/K7M3-QX9P-R:k7m3-qx9p-r_K7M3-QX9P-R-ABCD";
  ASSERT_EQ(barcode.size(), 64u);
  EXPECT_EQ(decode_symbols(render_label({"Langzeitprobe", barcode}, LabelFormat::png)), std::vector<std::string>{barcode});
}

TEST(Labels, PngIsA62By29MillimetreImage) {
  const std::string png = render_label({"Brunnen Süd", "K7M3-QX9P-R"}, LabelFormat::png);
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1A\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_NEAR(double(big_endian(png, 16)) / big_endian(png, 20), 62.0 / 29.0, 0.01);
}

// The name cannot be found in the SVG as text, because cairo outlines every glyph: so nothing a name
// holds reaches the markup. What is checkable is the document, its size, and how many characters it draws.
TEST(Labels, SvgIsALabelSizedDocumentDrawingItsText) {
  const std::string barcode = "K7M3-QX9P-R";
  const std::string svg = render_label({"ABCDEFGH", barcode}, LabelFormat::svg);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_EQ(count(svg, "<svg "), 1u);
  EXPECT_NE(svg.find("</svg>", svg.size() - 8), std::string::npos);
  EXPECT_NEAR(attribute(svg, "width"), 62 * 72 / 25.4, 0.01);
  EXPECT_NEAR(attribute(svg, "height"), 29 * 72 / 25.4, 0.01);
  EXPECT_EQ(glyphs(svg) - glyphs(render_label({"A", barcode}, LabelFormat::svg)), 7u);

  const std::string markup = render_label({"<b>&amp;</b>", barcode}, LabelFormat::svg);
  EXPECT_EQ(markup.find("<b>"), std::string::npos);
  EXPECT_EQ(count(markup, "<"), count(markup, ">"));
}

TEST(Labels, LongNameIsCutToFitWithAnEllipsis) {
  const std::string barcode = "K7M3-QX9P-R";
  std::string name;
  for (int i = 0; i < 50; ++i) name += "日本Ü ";
  const std::string svg = render_label({name, barcode}, LabelFormat::svg);
  EXPECT_GT(glyphs(svg), barcode.size() + 5);
  EXPECT_LT(glyphs(svg), barcode.size() + 40);
  const std::string zpl = render_label({name, barcode}, LabelFormat::zpl);
  EXPECT_NE(zpl.find("...^FS"), std::string::npos);
  EXPECT_LT(zpl.size(), 400u);
}

TEST(Labels, SheetHasTwentyFourLabelsToAnA4Page) {
  const std::string pdf = render_sheet_pdf(numbered(30));
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.find("%%EOF", pdf.size() - 8), std::string::npos);
  EXPECT_EQ(pages(pdf), 2u);
  EXPECT_EQ(count(pdf, "/MediaBox [ 0 0 595.27"), 2u);  // A4 in points
  EXPECT_EQ(pages(render_sheet_pdf(numbered(1))), 1u);
  EXPECT_EQ(pages(render_sheet_pdf(numbered(24))), 1u);
  EXPECT_EQ(pages(render_sheet_pdf(numbered(25))), 2u);
}

TEST(Labels, ZplHasOneLabelPerSampleInOrder) {
  const std::vector<LabelText> labels = {{"Erste", "ACME-S-0001"}, {"Zweite", "K7M3-QX9P-R"}, {"Dritte", "lot_7/a:b.c"}};
  const std::string zpl = render_zpl(labels);
  EXPECT_EQ(count(zpl, "^XA"), 3u);
  EXPECT_EQ(count(zpl, "^XZ"), 3u);
  std::size_t at = 0;
  for (const auto& [name, barcode] : labels) {
    const std::size_t start = zpl.find("^XA", at), end = zpl.find("^XZ", start);
    ASSERT_NE(end, std::string::npos) << barcode;
    const std::string label = zpl.substr(start, end - start);
    std::string data;  // ^FH field data: the underscore is ZPL's escape character
    for (const char c : barcode) data += c == '_' ? std::string("_5F") : std::string(1, c);
    EXPECT_NE(label.find("^CI28"), std::string::npos);
    EXPECT_NE(label.find("^FD" + name + "^FS"), std::string::npos) << label;
    EXPECT_NE(label.find("^BQN,2,"), std::string::npos) << label;
    EXPECT_NE(label.find("^FH^FDMA," + data + "^FS"), std::string::npos) << label;
    const std::size_t bars = label.find("^BCN,");
    ASSERT_NE(bars, std::string::npos) << label;
    EXPECT_NE(label.find("^FH^FD" + data + "^FS", bars), std::string::npos) << label;
    at = end;
  }
  EXPECT_EQ(render_label(labels[0], LabelFormat::zpl), render_zpl({labels[0]}));
}

TEST(Labels, ZplNameCannotInjectCommands) {
  const std::string zpl = render_zpl({{"Evil^XZ~JA^XA_x", "ACME-S-0001"}});
  EXPECT_EQ(count(zpl, "^XA"), 1u);
  EXPECT_EQ(count(zpl, "^XZ"), 1u);
  EXPECT_EQ(zpl.find('~'), std::string::npos);
  EXPECT_NE(zpl.find("^FDEvil_5EXZ_7EJA_5EXA_5Fx^FS"), std::string::npos) << zpl;
}

// Cairo refuses a whole string for one malformed byte or one Unicode noncharacter (U+FDD0..U+FDEF,
// U+xxFFFE/U+xxFFFF, well-formed UTF-8 all the same): each is drawn as U+FFFD, the rest as typed.
TEST(Labels, NameWithMalformedBytesOrNoncharactersIsDrawnWithReplacements) {
  const std::string barcode = "K7M3-QX9P-R";
  const std::size_t unnamed = glyphs(render_label({"", barcode}, LabelFormat::svg));
  const std::vector<std::pair<std::string, std::size_t>> names = {
      {"u\xF0\xBF\xBF\xBF\xBFx", 4},  // U+3FFFF, then a stray continuation byte
      {"A\xEF\xB7\x90" "B", 3},         // U+FDD0
      {"A\xEF\xBF\xBE" "B", 3},         // U+FFFE
      {"A\xF4\x8F\xBF\xBF" "B", 3},     // U+10FFFF
      {"A\xC0\xAF" "B", 4}};             // an overlong '/': two malformed bytes
  for (const auto& [name, characters] : names) {
    const std::string svg = render_label({name, barcode}, LabelFormat::svg);
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << name;
    EXPECT_EQ(glyphs(svg) - unnamed, characters) << name;
    EXPECT_FALSE(render_label({name, barcode}, LabelFormat::png).empty()) << name;
  }
}

TEST(Labels, BarcodeOutsideItsAlphabetIsRefused) {
  for (const std::string& barcode : std::vector<std::string>{"ABC\xE9", "", "A B", "A^XZ", std::string(65, 'A')}) {
    const LabelText label{"Probe", barcode};
    EXPECT_THROW(render_label(label, LabelFormat::png), std::invalid_argument) << barcode;
    EXPECT_THROW(render_label(label, LabelFormat::svg), std::invalid_argument) << barcode;
    EXPECT_THROW(render_zpl({label}), std::invalid_argument) << barcode;
    EXPECT_THROW(render_sheet_pdf({{"Gut", "ACME-S-0001"}, label}), std::invalid_argument) << barcode;
  }
}

TEST(Labels, ContentTypes) {
  EXPECT_STREQ(content_type(LabelFormat::svg), "image/svg+xml");
  EXPECT_STREQ(content_type(LabelFormat::png), "image/png");
  EXPECT_STREQ(content_type(LabelFormat::zpl), "text/plain; charset=utf-8");
}

TEST(Labels, RenderTheSameOnManyThreads) {
  const LabelText label{"Müller", "K7M3-QX9P-R"};
  const std::string expected = render_label(label, LabelFormat::png);
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) render_sheet_pdf(numbered(5));
      results[t] = render_label(label, LabelFormat::png);
    });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}
