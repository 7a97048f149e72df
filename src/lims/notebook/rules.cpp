#include "lims/notebook/rules.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "platform/crypto.hpp"

namespace spectra::notebook {
namespace {

void append_length(std::string& out, std::uint64_t n) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
}

void append_field(std::string& out, std::string_view bytes) {
  append_length(out, bytes.size());
  out.append(bytes);
}

}  // namespace

std::string canonical_content(std::string_view title, std::string_view body, std::vector<std::string> sample_ids) {
  for (auto& id : sample_ids)
    for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::sort(sample_ids.begin(), sample_ids.end());
  std::string out = "spectra-eln-content/1\n";
  append_field(out, title);
  append_field(out, body);
  append_length(out, sample_ids.size());
  for (const auto& id : sample_ids) out.append(id);
  return out;
}

std::string content_sha256(std::string_view title, std::string_view body, std::vector<std::string> sample_ids) {
  return crypto::sha256(canonical_content(title, body, std::move(sample_ids)));
}

std::optional<EditRefusal> edit_refusal(std::string_view author_id, std::string_view caller_id, bool is_signed) {
  if (author_id != caller_id) return EditRefusal{true, "Only the author of an entry changes it"};
  if (is_signed) return EditRefusal{false, "The entry is signed and locked: amend it with a new entry instead"};
  return std::nullopt;
}

std::optional<std::string> meaning_refusal(std::string_view meaning, std::string_view author_id,
                                           std::string_view signer_id) {
  if (meaning == "author" && author_id != signer_id) return "Only the entry's author signs it as author";
  if (meaning != "author" && author_id == signer_id)
    return "The author of an entry signs it only as author: its " + std::string(meaning) + " is someone else";
  return std::nullopt;
}

std::optional<std::string> stale_content_refusal(std::string_view read_hex, std::string_view current_hex) {
  std::string read(read_hex);
  for (auto& c : read) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (read == current_hex) return std::nullopt;
  return "The entry changed since you read it (its content_sha256 is now " + std::string(current_hex) +
         "): read it again before you sign";
}

}  // namespace spectra::notebook
