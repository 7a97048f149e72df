#pragma once
// Die bin maps (the Analysis API): a run's SEMI G85 map, read strictly (g85.hpp), stored per die, and
// answered as JSON (rows, columns, bins with counts, yield, the dies) or written back as G85 XML.
#include <optional>
#include <string>

#include "kit/route.hpp"

namespace spectra::binmaps {

struct BinMapQuery {
  std::optional<std::string> format;
  static kit::Input<BinMapQuery> input();
};
kit::Reply get_bin_map(kit::RequestContext& ctx, kit::Path<kit::Id> p, kit::QueryString<BinMapQuery> q);
// The body: a G85 XML map (application/xml or text/xml).
kit::Reply create_bin_map(kit::RequestContext& ctx, kit::Path<kit::Id> p, kit::Upload xml);

}  // namespace spectra::binmaps
