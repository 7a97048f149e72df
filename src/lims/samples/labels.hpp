#pragma once
// Printable sample labels: a QR code and a Code 128 barcode of the sample's barcode, with its name and
// barcode as text; as SVG, PNG or ZPL (Zebra printers), or many to a PDF sheet. Symbols come from libzint,
// drawing from cairo. Pure functions: no I/O; call them off the I/O threads (they take milliseconds).
#include <string>
#include <vector>

namespace spectra::samples {

struct LabelText {
  std::string name;     // UTF-8, at most 200 characters; may contain non-ASCII (Müller, 日本)
  std::string barcode;  // printable ASCII, 1..64 characters (A-Z a-z 0-9 . _ / : -)
};
enum class LabelFormat { svg, png, zpl };

// One label, about 62 x 29 mm (a common label-printer size). Throws std::invalid_argument when the barcode cannot be encoded.
std::string render_label(const LabelText& label, LabelFormat format);
// A4 PDF pages of labels in a grid (e.g. 3 columns x 8 rows, 63.5 x 33.9 mm each, with margins), as many pages as needed.
std::string render_sheet_pdf(const std::vector<LabelText>& labels);
// One ZPL stream: one ^XA ... ^XZ label per sample, in order.
std::string render_zpl(const std::vector<LabelText>& labels);
// The MIME type of a single label's format: image/svg+xml, image/png, text/plain; charset=utf-8 (ZPL).
const char* content_type(LabelFormat format);

}  // namespace spectra::samples
