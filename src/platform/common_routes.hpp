#pragma once
// Routes both services serve: /health, /openapi.json, /.well-known/jwks.json.
#include <string>
#include <vector>

#include "platform/http/router.hpp"

namespace spectra {
std::vector<Route> common_routes(std::string service_name);
}
