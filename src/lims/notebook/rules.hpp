#pragma once
// The notebook's rules as plain functions, unit-tested without a socket or a database: what a signature
// vouches for (the entry's canonical content and its hash), who may change an entry, and who may sign
// with which meaning.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/rbac.hpp"

namespace spectra::notebook {

// The canonical content a signature covers, version 1: the bytes
//
//   "spectra-eln-content/1" 0x0A
//   u64be(len(title))    title            (UTF-8, as stored)
//   u64be(len(body))     body_markdown    (UTF-8, as stored)
//   u64be(n)             n linked sample ids, each as 36 lower-case characters, in ascending order
//
// where u64be is an unsigned 64-bit big-endian integer. Length prefixes make every field's boundary
// unambiguous (no title/body split gives the same bytes), and sorting makes the link order irrelevant.
std::string canonical_content(std::string_view title, std::string_view body, std::vector<std::string> sample_ids);
// SHA-256 of canonical_content(): 32 raw bytes.
std::string content_sha256(std::string_view title, std::string_view body, std::vector<std::string> sample_ids);

inline constexpr const char* signature_meanings[] = {"author", "reviewer", "approver"};

// Why a caller may not change an entry (nullopt: allowed). Only its author changes it (403), and only
// while it is unsigned (409).
struct EditRefusal {
  bool forbidden = false;  // 403, else 409
  std::string message;
};
std::optional<EditRefusal> edit_refusal(std::string_view author_id, std::string_view caller_id, bool is_signed);

// Why a caller may not sign with `meaning` (nullopt: allowed), separation of duties: the meaning
// "author" is the entry's author's alone, and the author signs with no other meaning (403): a reviewer
// or an approver is never the author.
std::optional<std::string> meaning_refusal(std::string_view meaning, std::string_view author_id,
                                           std::string_view signer_id);

// Why a signature may not be written over the entry's content now (nullopt: allowed): the signer
// names the content hash they read (hex); any other content is refused (409), so what was signed is
// what was shown. Upper- and lower-case hex are the same hash.
std::optional<std::string> stale_content_refusal(std::string_view read_sha256_hex, std::string_view current_sha256_hex);

}  // namespace spectra::notebook
