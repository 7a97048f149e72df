#include "platform/http/multipart.hpp"

#include <algorithm>
#include <cctype>

namespace spectra::http {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A parameter of a header value (name="value" or name=value); quotes and backslash escapes removed.
// Parameters are split on the semicolons outside quoted strings.
std::optional<std::string> parameter(std::string_view value, std::string_view name) {
  std::size_t at = value.find(';');
  while (at != std::string_view::npos) {
    ++at;
    // One parameter: up to the next semicolon outside quotes.
    std::size_t end = at;
    bool quoted = false;
    for (; end < value.size(); ++end) {
      if (quoted && value[end] == '\\') {
        ++end;
        continue;
      }
      if (value[end] == '"') quoted = !quoted;
      if (!quoted && value[end] == ';') break;
    }
    auto param = trim(value.substr(at, end - at));
    at = end < value.size() ? end : std::string_view::npos;
    const auto eq = param.find('=');
    if (eq == std::string_view::npos || lower(trim(param.substr(0, eq))) != name) continue;
    auto v = trim(param.substr(eq + 1));
    std::string out;
    if (!v.empty() && v.front() == '"') {
      for (std::size_t i = 1; i < v.size() && v[i] != '"'; ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        out.push_back(v[i]);
      }
    } else {
      out = std::string(v);
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  if (lower(trim(content_type.substr(0, content_type.find(';')))) != "multipart/form-data") return std::nullopt;
  auto b = parameter(content_type, "boundary");
  if (!b || b->empty() || b->size() > 70) return std::nullopt;
  return b;
}

std::optional<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary) {
  const std::string delimiter = "--" + std::string(boundary);
  std::vector<FormPart> parts;
  auto at = body.find(delimiter);
  if (at == std::string_view::npos) return std::nullopt;
  at += delimiter.size();
  for (;;) {
    if (body.substr(at, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(at, 2) != "\r\n") return std::nullopt;
    at += 2;
    const auto headers_end = body.find("\r\n\r\n", at);
    if (headers_end == std::string_view::npos) return std::nullopt;
    FormPart part;
    bool disposition = false;
    for (auto headers = body.substr(at, headers_end - at); !headers.empty();) {
      const auto eol = std::min(headers.find("\r\n"), headers.size());
      const auto line = headers.substr(0, eol);
      headers.remove_prefix(std::min(eol + 2, headers.size()));
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) return std::nullopt;
      const auto name = lower(trim(line.substr(0, colon)));
      const auto value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        if (lower(trim(value.substr(0, value.find(';')))) != "form-data") return std::nullopt;
        disposition = true;
        part.name = parameter(value, "name").value_or("");
        part.filename = parameter(value, "filename");
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (!disposition) return std::nullopt;
    const auto data_start = headers_end + 4;
    const auto next = body.find("\r\n" + delimiter, data_start);
    if (next == std::string_view::npos) return std::nullopt;
    part.data = body.substr(data_start, next - data_start);
    parts.push_back(std::move(part));
    at = next + 2 + delimiter.size();
  }
}

}  // namespace spectra::http
