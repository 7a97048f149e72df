// Certificates of analysis as a user checks them: a PDF of A4 pages, as many as the results need, with
// the text on it (read back with pdftotext when poppler-utils is installed; cairo subsets the fonts, so
// the text cannot be searched in the bytes), and no content that breaks the renderer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "lims/quality/certificate_pdf.hpp"
#include "support/command.hpp"

using namespace spectra::quality;
using spectra::test::run_command;

namespace {

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

std::size_t pages(const std::string& pdf) { return count(pdf, "/Type /Page") - count(pdf, "/Type /Pages"); }

bool ends_with_eof(const std::string& pdf) {
  const std::size_t end = pdf.find_last_not_of(" \t\r\n");
  return end != std::string::npos && end >= 4 && pdf.compare(end - 4, 5, "%%EOF") == 0;
}

CertificateLine line(int i) {
  static const char* const kEvaluations[] = {"pass", "warn", "fail", "below_lod", "none"};
  return {.run_id = "7b2e9f10-1c2d-4e3f-9a8b-" + std::to_string(100000000000 + i),
          .measured_at = "2024-04-30 14:20:00+00",
          .metric = "Film thickness " + std::to_string(i),
          .value = 101.25 + i,
          .unit = "nm",
          .lsl = 95,
          .usl = 110,
          .target = 100,
          .lod = 0.5,
          .evaluation = kEvaluations[i % 5],
          .instrument = "Ellipsometer E-2",
          .calibration = "CAL-2024-0012, valid until 2025-06-30",
          .specification = "Oxide 150 v3"};
}

CertificateContent certificate(int lines) {
  CertificateContent c{.certificate_id = "8a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b",
                       .organization = "Müller Halbleiter GmbH",
                       .sample_name = "Wafer Müller 日本",
                       .sample_barcode = "ACME-S-0042",
                       .sample_type = "wafer",
                       .material = "Silicon",
                       .properties = {{"Diameter", "150 mm"}, {"Thickness", "675 µm"}, {"Orientation", "<100>"}},
                       .lines = {},
                       .issued_by = "Dr. Jürgen Müller",
                       .issued_at = "2024-05-01 10:00:00.123456+00",
                       .verify_url = "https://lims.example.com/verify/8a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b"};
  for (int i = 0; i < lines; ++i) c.lines.push_back(line(i));
  return c;
}

// What pdftotext (poppler-utils) reads off the PDF; empty when it is not installed.
std::string pdf_text(const std::string& pdf) {
  if (run_command("command -v pdftotext").empty()) return "";
  const auto path =
      std::filesystem::temp_directory_path() / ("certificate_pdf_test_" + std::to_string(getpid()) + ".pdf");
  std::ofstream(path, std::ios::binary) << pdf;
  const std::string text = run_command("pdftotext -enc UTF-8 '" + path.string() + "' -");
  std::filesystem::remove(path);
  return text;
}

}  // namespace

TEST(CertificatePdf, IsAnA4PdfDocument) {
  const CertificateContent c = certificate(3);
  const std::string pdf = render_certificate_pdf(c);
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_TRUE(ends_with_eof(pdf)) << pdf.substr(pdf.size() - std::min<std::size_t>(pdf.size(), 16));
  EXPECT_EQ(pages(pdf), 1u);
  EXPECT_EQ(count(pdf, "/MediaBox [ 0 0 595.27"), 1u);
  // The document's metadata and the link on the QR code are plain strings in the file.
  EXPECT_NE(pdf.find("/Title (Certificate of Analysis " + c.certificate_id + ")"), std::string::npos);
  EXPECT_NE(pdf.find("/URI (" + c.verify_url + ")"), std::string::npos);
}

TEST(CertificatePdf, LongCertificatesTakeMorePages) {
  const std::size_t short_one = pages(render_certificate_pdf(certificate(3)));
  const std::size_t long_one = pages(render_certificate_pdf(certificate(200)));
  EXPECT_EQ(short_one, 1u);
  EXPECT_GT(long_one, short_one);
  EXPECT_GE(long_one, 6u);  // a result takes three lines: fewer than 40 fit on an A4 page
  EXPECT_EQ(pages(render_certificate_pdf(certificate(0))), 1u);
}

TEST(CertificatePdf, CarriesItsText) {
  const std::string text = pdf_text(render_certificate_pdf(certificate(5)));
  if (text.empty()) GTEST_SKIP() << "pdftotext (poppler-utils) is not installed";
  for (const std::string expected :
       {"Certificate of Analysis", "8a1f3c2e-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "Müller Halbleiter GmbH", "ACME-S-0042",
        "Diameter", "150 mm", "Film thickness 4", "101.25", "PASS", "WARN", "FAIL", "BELOW LOD", "Ellipsometer E-2",
        "CAL-2024-0012, valid until 2025-06-30", "Oxide 150 v3", "Dr. Jürgen Müller", "Verify:", "Page 1 of 1"})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  const std::string long_text = pdf_text(render_certificate_pdf(certificate(200)));
  EXPECT_NE(long_text.find("Page 1 of "), std::string::npos);
  EXPECT_NE(long_text.find("Film thickness 199"), std::string::npos);
}

TEST(CertificatePdf, RendersExtremeAndMissingContent) {
  CertificateContent c = certificate(0);
  c.material.reset();
  for (int i = 0; i < 40; ++i) c.properties.emplace_back("Property " + std::to_string(i), std::string(300, 'x'));
  c.organization = std::string(400, 'O') + " 日本";
  c.issued_at = "not a date";
  using limits = std::numeric_limits<double>;
  const double extremes[] = {1e300, -1e-300, 0.0, -0.0, limits::max(), limits::lowest(), limits::denorm_min()};
  for (const double value : extremes) {
    CertificateLine bare;  // every text empty, every optional absent
    bare.metric = std::string(500, 'M');
    bare.value = value;
    c.lines.push_back(bare);
    CertificateLine odd = line(1);
    odd.value = -value;
    odd.lsl = value;
    odd.usl = limits::infinity();
    odd.metric = "Dicke 日本 \xFF\xC3 malformed\ttab\n" + std::string(200, '\xE6');
    odd.evaluation = "something new";
    odd.instrument = std::string(300, 'I');
    c.lines.push_back(odd);
  }
  std::string pdf;
  ASSERT_NO_THROW(pdf = render_certificate_pdf(c));
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  EXPECT_TRUE(ends_with_eof(pdf));
  EXPECT_GE(pages(pdf), 1u);

  c.verify_url = "https://lims.example.com/verify/ü?a=(b)&c='d'\\" + std::string(100, '/');
  ASSERT_NO_THROW(pdf = render_certificate_pdf(c));
  EXPECT_TRUE(ends_with_eof(pdf));
  EXPECT_NE(pdf.find("/URI (https://lims.example.com/verify/%C3%BC?a=%28b%29&c=%27d%27%5C"), std::string::npos);
}

TEST(CertificatePdf, VerifyUrlThatCannotBeEncodedIsRefused) {
  CertificateContent c = certificate(3);
  c.verify_url = "";
  EXPECT_THROW(render_certificate_pdf(c), std::invalid_argument);
  c.verify_url = "https://lims.example.com/verify/" + std::string(8000, 'a');  // beyond a QR code's capacity
  EXPECT_THROW(render_certificate_pdf(c), std::invalid_argument);
}

// The creation date is the issue date, so a certificate is the same file however often it is rendered.
TEST(CertificatePdf, RendersTheSameOnManyThreads) {
  const CertificateContent c = certificate(40);
  const std::string expected = render_certificate_pdf(c);
  const std::size_t date = expected.find("/CreationDate (");
  ASSERT_NE(date, std::string::npos);
  EXPECT_EQ(expected.find("20240501100000", date), date + 15 + (expected.compare(date + 15, 2, "D:") == 0 ? 2 : 0));
  std::vector<std::string> results(3);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] { results[t] = render_certificate_pdf(c); });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}
