#pragma once
// The OpenAPI document rendered for people (GET /docs): plain HTML built on the server from the same
// document as /openapi.json — no script, no stylesheet from elsewhere, nothing fetched from a CDN.
#include <string>
#include <string_view>

namespace spectra::kit {

// HTML of an OpenAPI 3.1 document (its JSON text): each operation with its summary, parameters, body
// fields and answers.
std::string openapi_html(std::string_view openapi_json);

}  // namespace spectra::kit
