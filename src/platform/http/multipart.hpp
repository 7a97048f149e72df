#pragma once
// multipart/form-data (RFC 7578) as a browser sends a form with a file: the parts of a body, each with
// its form field name, its filename (for a file) and its own Content-Type. Views into the body.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spectra::http {

struct FormPart {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;  // "" when the part names none
  std::string_view data;
};

// The boundary of a multipart/form-data content type, or nullopt when it is not one.
std::optional<std::string> multipart_boundary(std::string_view content_type);
// The parts of `body`; nullopt when it is not a well-formed multipart body with this boundary.
std::optional<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary);

}  // namespace spectra::http
