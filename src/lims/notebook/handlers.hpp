#pragma once
// The notebook: markdown entries linked to samples, rendered to sanitized HTML, signed 21 CFR Part 11
// style (password again, a meaning, the hash of the content), and exported as .eln files. Each
// handler's parameters after the context are its declared inputs (kit/route.hpp).
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"

namespace spectra::notebook {

using kit::Body;
using kit::OptionalBody;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

struct NewEntry {
  std::string title, body_markdown;
  std::vector<std::string> tags, sample_ids;
  std::optional<std::string> amends_entry_id;
  std::string extra_metadata = "{}";
  static constexpr std::size_t max_body_bytes = kit::markdown_body_limit;
  static kit::Input<NewEntry> input();
};
struct EntryChange {
  std::optional<std::string> title, body_markdown;
  std::optional<std::vector<std::string>> tags, sample_ids;
  std::optional<std::string> extra_metadata;
  static constexpr std::size_t max_body_bytes = kit::markdown_body_limit;
  static kit::Input<EntryChange> input();
};
struct EntryFilters {
  std::optional<std::string> author_id, tag, sample_id, amends_entry_id, q;
  std::optional<bool> signed_;
  static kit::Input<EntryFilters> input();
};
struct Preview {
  std::string body_markdown;
  static constexpr std::size_t max_body_bytes = kit::markdown_body_limit;
  static kit::Input<Preview> input();
};
struct Signing {
  std::string password, meaning, content_sha256;
  static kit::Input<Signing> input();
};

Reply list_entries(RequestContext& ctx, QueryString<EntryFilters> q, PageRequest page);
Reply create_entry(RequestContext& ctx, Body<NewEntry> in);
Reply get_entry(RequestContext& ctx, Path<kit::Id> p);
Reply update_entry(RequestContext& ctx, Path<kit::Id> p, Body<EntryChange> in);
Reply preview_entry(RequestContext& ctx, Body<Preview> in);
Reply sign_entry(RequestContext& ctx, Path<kit::Id> p, Body<Signing> in);
Reply list_signatures(RequestContext& ctx, Path<kit::Id> p, PageRequest page);
Reply export_entry(RequestContext& ctx, Path<kit::Id> p);

}  // namespace spectra::notebook
