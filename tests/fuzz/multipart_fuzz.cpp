// libFuzzer: an upload's multipart/form-data body. The first line of the input is the request's
// Content-Type, the rest its body. A boundary is found or refused; the body is split into parts or
// refused; each part's data lies inside the body and never holds the delimiter that ends it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "platform/http/multipart.hpp"

using namespace spectra;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto eol = input.find('\n');
  const std::string_view content_type = input.substr(0, eol);
  const std::string_view body = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);
  const auto boundary = http::multipart_boundary(content_type);
  if (!boundary) return 0;
  if (boundary->empty() || boundary->size() > 70) std::abort();
  const auto parts = http::parse_multipart(body, *boundary);
  if (!parts) return 0;
  const std::string delimiter = "\r\n--" + *boundary;
  for (const auto& part : *parts) {
    if (part.data.data() < body.data() || part.data.data() + part.data.size() > body.data() + body.size()) std::abort();
    if (part.data.find(delimiter) != std::string_view::npos) std::abort();
  }
  return 0;
}
