#include "analysis/attachments/rules.hpp"

#include <boost/json/parse.hpp>
#include <cctype>

#include "platform/utf8.hpp"

namespace spectra::attachments {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_text(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') return false;
    if (c == 0x7f) return false;
    const auto n = utf8::sequence_length(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace

std::optional<std::string> allowed_type(std::string_view declared) {
  auto t = lower(declared.substr(0, declared.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  for (const char* ok : {"text/csv", "text/tab-separated-values", "text/plain", "application/json", "image/png",
                         "image/jpeg", "application/pdf", "application/x-hdf5"})
    if (t == ok) return t;
  return std::nullopt;
}

bool content_matches(std::string_view type, std::string_view b) {
  if (type == "image/png") return b.starts_with(std::string_view("\x89PNG\r\n\x1a\n", 8));
  if (type == "image/jpeg") return b.size() >= 3 && b.starts_with(std::string_view("\xFF\xD8\xFF", 3));
  if (type == "application/pdf") return b.starts_with("%PDF-");
  if (type == "application/x-hdf5") return b.starts_with(std::string_view("\x89HDF\r\n\x1a\n", 8));
  if (type == "application/json") {
    if (!is_text(b)) return false;
    boost::system::error_code ec;
    boost::json::parse(b, ec);
    return !ec;
  }
  if (type == "text/csv" || type == "text/tab-separated-values" || type == "text/plain") return is_text(b);
  return false;
}

std::string sanitize_filename(std::string_view name) {
  if (const auto slash = name.find_last_of("/\\"); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    const auto n = utf8::sequence_length(name, i);
    if (n == 0) {  // not UTF-8: dropped
      ++i;
      continue;
    }
    if (n == 1 && (c < 0x20 || c == 0x7f || c == '"' || c == ';' || c == '*' || c == '?' || c == '<' || c == '>' ||
                   c == '|' || c == ':')) {
      out.push_back('_');
    } else {
      out.append(name.substr(i, n));
    }
    i += n;
  }
  if (out.size() > 200) {  // keep the end (the extension), on a whole character
    std::size_t from = out.size() - 200;
    while (from < out.size() && (static_cast<unsigned char>(out[from]) & 0xC0) == 0x80) ++from;
    out = out.substr(from);
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(out.begin());
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "file" : out;
}

}  // namespace spectra::attachments
