#pragma once
// What the integration tests say to the API and read back from it, written once: JSON fields, the
// fields a problem answer names, every item of a list, a second user, an API key.
#include <boost/json.hpp>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "support/harness.hpp"

namespace spectra::test {

// A string member of a JSON object.
std::string str(const boost::json::value& v, const char* key);
std::string js(const boost::json::object& o);
// "STATUS body…", for failure messages.
std::string describe(const HttpResponse& r);
// The fields a problem answer names (empty when the body has none).
std::vector<std::string> error_fields(const HttpResponse& r);
bool names(const HttpResponse& r, const std::string& field);
// Every item of a LIMS list, following next_cursor; throws unless each page answers 200.
std::vector<boost::json::value> all_items(const std::string& path, const std::string& token, int limit = 500);
std::set<std::string> ids_of(const std::vector<boost::json::value>& items);
// A second user of a role, made by the organization's admin.
TestUser add_user(const TestOrg& org, const std::string& role, const std::string& tag);
// An API key of a service account with `role` and `scopes`, made by the organization's admin.
std::string api_key(const TestOrg& org, const std::vector<std::string>& scopes, const std::string& role);

// The first column of the first row an owner query answers ("<no row>" when none): a value in the
// database, as a test checks it.
std::string db_text(const std::string& sql, const db::Params& params = db::Params());

// Runs every call at the same moment (each on its own thread, released together) and answers their
// responses in order; a call that throws answers status 0 with the message as its body.
std::vector<HttpResponse> concurrently(const std::vector<std::function<HttpResponse()>>& calls);

}  // namespace spectra::test
