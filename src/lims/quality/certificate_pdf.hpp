#pragma once
// A certificate of analysis as a PDF (A4, cairo; the QR code from libzint): the organization, the sample
// with its wafer properties, each result with its limits and evaluation, the instrument and the
// calibration certificate valid when it was measured, the specification version, who issued it and
// when, and a QR code of the verify URL. A pure function: no I/O; call it off the I/O threads.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spectra::quality {

struct CertificateLine {
  std::string run_id;
  std::string measured_at;             // ISO 8601, as the database gives it
  std::string metric;
  double value = 0;
  std::optional<std::string> unit;
  std::optional<double> lsl, usl, target, lod;
  std::string evaluation;              // pass, warn, fail, below_lod, none
  std::string instrument;              // the instrument's name
  std::optional<std::string> calibration;  // "certificate number, valid until <date>" (none: no valid calibration)
  std::optional<std::string> specification; // "<name> v<version>" (none: no specification bound)
};

struct CertificateContent {
  std::string certificate_id;          // uuid
  std::string organization;            // the organization's name
  std::string sample_name, sample_barcode, sample_type;
  std::optional<std::string> material;
  std::vector<std::pair<std::string, std::string>> properties;  // e.g. {"Diameter", "150 mm"}, wafer properties
  std::vector<CertificateLine> lines;  // in order
  std::string issued_by;               // printed name
  std::string issued_at;               // ISO 8601
  std::string verify_url;              // encoded in the QR code and printed in text
};

// The PDF's bytes. As many A4 pages as the lines need (a header with the table's column titles repeats on
// each page; page "n of m" in the footer). Throws std::invalid_argument when the verify URL cannot be encoded.
std::string render_certificate_pdf(const CertificateContent& content);

}  // namespace spectra::quality
