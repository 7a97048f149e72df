#pragma once
// How a bin map's bins and the attributes G85 does not name are stored (jsonb columns of bin_maps), the
// one writer for the route and the demo data; bin_maps.cpp reads them back.
#include <string>

#include "analysis/binmaps/g85.hpp"

namespace spectra::binmaps {

// [{"code","count","quality","description"}, ...] in the map's order.
std::string bins_json(const BinMap& m);
// {"map": [[name, value], ...], "device": [[name, value], ...]}
std::string attributes_json(const BinMap& m);

}  // namespace spectra::binmaps
