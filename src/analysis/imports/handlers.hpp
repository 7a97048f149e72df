#pragma once
// Instrument data (the Analysis API): import profiles, and files imported into runs through them —
// stored as attachments, read strictly, recorded as results in one transaction, once per file's
// SHA-256 and run. Each handler's parameters after the context are its declared inputs (kit/route.hpp).
#include <optional>
#include <string>

#include "kit/route.hpp"

namespace spectra::imports {

using kit::Body;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

// The header names of a file's columns.
struct ProfileColumns {
  std::optional<std::string> metric, metric_column, value, unit, x_mm, y_mm, die_x, die_y, site;
  static kit::Input<ProfileColumns> input();
};
struct NewProfile {
  std::string name, instrument_id, format;
  int skip_lines = 0;
  std::optional<ProfileColumns> columns;
  std::optional<std::string> metric, unit;
  double unit_scale = 1;
  bool decimal_comma = false;
  std::string extra_metadata = "{}";
  static kit::Input<NewProfile> input();
};
// A change: the given members replace the profile's (columns as a whole); metric and unit may be null.
struct ProfileChange {
  std::optional<std::string> name, instrument_id, format;
  std::optional<int> skip_lines;
  std::optional<ProfileColumns> columns;
  kit::Nullable<std::string> metric, unit;
  std::optional<double> unit_scale;
  std::optional<bool> decimal_comma;
  std::optional<std::string> extra_metadata;
  static kit::Input<ProfileChange> input();
};
struct ProfileFilters {
  std::optional<std::string> instrument_id, q;
  static kit::Input<ProfileFilters> input();
};
Reply list_profiles(RequestContext& ctx, QueryString<ProfileFilters> q, PageRequest page);
Reply create_profile(RequestContext& ctx, Body<NewProfile> in);
Reply get_profile(RequestContext& ctx, Path<kit::Id> p);
Reply update_profile(RequestContext& ctx, Path<kit::Id> p, Body<ProfileChange> in);

// multipart/form-data: `file` and `profile_id`.
Reply import_file(RequestContext& ctx, Path<kit::Id> p, kit::Upload file);
Reply list_imports(RequestContext& ctx, Path<kit::Id> p, PageRequest page);

}  // namespace spectra::imports
