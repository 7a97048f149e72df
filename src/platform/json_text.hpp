#pragma once
// JSON text as the API writes it: like boost::json::serialize, except that a double is written the way
// PostgreSQL and JavaScript write it (the shortest text that reads back the same, 110 or 0.12 or 1e-7)
// rather than Boost's 1.1E2 — so a value answered from C++ reads the same as one answered from SQL.
#include <boost/json/fwd.hpp>
#include <string>

namespace spectra {

std::string json_text(const boost::json::value& v);

}  // namespace spectra
