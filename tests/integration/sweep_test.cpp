// The tenant sweep: every route of both route tables (the tables the server serves, lims_router() and
// analysis_router(), not a list kept by hand), called by every role of one organization (A) and by an
// API key of it with each scope, with another organization's (B's) ids in the path, in the body and in
// the query filters. Never a 2xx on B's object, always 404 (never 403) for its id, lists filtered by its
// ids empty, and B's rows unchanged afterwards, compared table by table in the database (with B's audit
// trail). The same walk checks each route's guard against the role API.md states (the table below, one
// row per route): a caller below it gets 403, a caller at or above it does not.
//
// For each route and caller the guard admits, the requests are:
//   - a path with parameters: B's object in the path (and B's ids in every id field of the body and the
//     query): 404, or 422 naming only fields given B's ids; then, where A has an object of the path's
//     kind, A's own object in the path with B's id in one body or query field at a time: refused (422
//     naming that field, 404, 403 or 409), never a 2xx;
//   - no path parameter: B's id in one body or query field at a time (A's own ids in the other required
//     ones): a GET of a list answers 200 and empty (CSV: the header alone), anything else 404 or a 422
//     naming only that field.
// A caller below the guard is sent the first of those (or, for a route with nothing of B's to give, a
// request with nothing foreign): 403.
//
// Bodies, path parameters and query filters are generated from each route's declared inputs (FieldSpec);
// what a declaration cannot tell is in overrides() and value_hints(). A route the sweep cannot exercise
// (a path parameter, an id field, a pattern or an upload it has no generator for) fails the test until
// one is written, so a new route cannot slip past it; a new route without a row in api_md_guards() fails
// Sweep.EveryRouteHasTheGuardApiMdStates.
//
// Not walked (the cross-tenant part), with the reason:
//   - routes that take no credentials (guard.authenticated == false): GET /health, /health/live,
//     /health/ready, /metrics (METRICS_TOKEN's bearer), /openapi.json, /docs, /.well-known/jwks.json on
//     both ports; POST /api/auth/login and /api/auth/refresh (an email and
//     password, or a refresh token, not an id); GET /.well-known/audit-keys.json. No organization is
//     involved. Their guard rows are still checked.
//   - for a caller the guard admits, a route with nothing of B's to give it (no path parameter, no id
//     field, no secret: POST /api/materials, GET /api/auth/me, PATCH /api/organization, …): there is
//     nothing cross-tenant to check, and calling it would only create or change the caller's own objects.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdint>
#include <functional>
#include <iostream>
#include <thread>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/rbac.hpp"
#include "kit/input.hpp"
#include "kit/route.hpp"
#include "server/route_tables.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------------------------
// The guard of every route as API.md states it: "METHOD /path" → the lowest role it admits ("anyone":
// no credentials). API.md's "any role" is viewer, "technician+" technician, "engineer+" engineer, "pi+"
// pi, "admin" admin. Rows marked "not in API.md" take the route table's guard as it is.

const std::map<std::string, std::string>& api_md_guards() {
  static const std::map<std::string, std::string> rows = {
      // Both services
      {"GET /health", "anyone"},
      {"GET /openapi.json", "anyone"},
      {"GET /docs", "anyone"},
      {"GET /.well-known/jwks.json", "anyone"},
      {"GET /health/live", "anyone"},
      {"GET /health/ready", "anyone"},
      {"GET /metrics", "anyone"},  // API.md: the bearer of METRICS_TOKEN (no user credentials; 404 without it)

      // LIMS API: identity
      {"POST /api/auth/login", "anyone"},
      {"POST /api/auth/refresh", "anyone"},
      {"POST /api/auth/logout", "viewer"},  // API.md names no role: any signed-in user
      {"GET /api/auth/me", "viewer"},
      // API.md: "admin (…); a PI manages only engineers, technicians and viewers", and PRODUCT.md gives a
      // pi the management of those roles: pi or above, a PI within its limits.
      {"GET /api/users", "pi"},
      {"POST /api/users", "pi"},
      {"GET /api/users/{id}", "pi"},
      {"PATCH /api/users/{id}", "pi"},
      {"DELETE /api/users/{id}", "pi"},
      {"GET /api/api-keys", "admin"},
      {"POST /api/api-keys", "admin"},
      {"DELETE /api/api-keys/{id}", "admin"},
      {"GET /api/organization", "viewer"},
      {"PATCH /api/organization", "admin"},
      {"GET /api/audit", "admin"},
      {"GET /api/audit/checkpoint", "admin"},
      {"GET /.well-known/audit-keys.json", "anyone"},

      // LIMS API: samples
      {"GET /api/materials", "viewer"},
      {"POST /api/materials", "engineer"},
      {"GET /api/materials/{id}", "viewer"},
      {"PATCH /api/materials/{id}", "engineer"},
      {"DELETE /api/materials/{id}", "engineer"},
      {"GET /api/samples", "viewer"},
      {"POST /api/samples", "engineer"},
      {"POST /api/samples/import", "engineer"},
      {"POST /api/samples/labels", "viewer"},
      {"GET /api/samples/{id}", "viewer"},
      {"PATCH /api/samples/{id}", "engineer"},
      {"DELETE /api/samples/{id}", "engineer"},
      {"GET /api/samples/{id}/label", "viewer"},
      {"GET /api/samples/{id}/custody", "viewer"},
      {"POST /api/samples/{id}/custody", "technician"},
      {"GET /api/wafers", "viewer"},
      {"POST /api/wafers", "engineer"},
      {"GET /api/wafers/{id}", "viewer"},
      {"PATCH /api/wafers/{id}", "engineer"},
      {"GET /api/devices", "viewer"},
      {"POST /api/devices", "engineer"},
      {"GET /api/devices/{id}", "viewer"},
      {"PATCH /api/devices/{id}", "engineer"},

      // LIMS API: process
      {"GET /api/recipes", "viewer"},
      {"POST /api/recipes", "engineer"},
      {"GET /api/recipes/{id}", "viewer"},
      {"PATCH /api/recipes/{id}", "engineer"},
      {"POST /api/recipes/{id}/submit", "engineer"},
      {"POST /api/recipes/{id}/approve", "pi"},
      {"POST /api/recipes/{id}/reject", "pi"},
      {"GET /api/sops", "viewer"},
      {"POST /api/sops", "engineer"},
      {"GET /api/sops/{id}", "viewer"},
      {"PATCH /api/sops/{id}", "engineer"},  // not in API.md
      {"POST /api/sops/{id}/versions", "engineer"},
      {"POST /api/sops/{id}/approve", "pi"},
      {"POST /api/sops/{id}/reject", "pi"},
      {"POST /api/sops/{id}/acknowledge", "viewer"},

      // LIMS API: notebook
      // LIMS API: quality
      {"GET /api/specifications", "viewer"},
      {"POST /api/specifications", "engineer"},
      {"GET /api/specifications/{id}", "viewer"},
      {"PATCH /api/specifications/{id}", "engineer"},
      {"POST /api/specifications/{id}/approve", "pi"},
      {"POST /api/specifications/{id}/reject", "pi"},
      {"GET /api/nonconformances", "viewer"},
      {"GET /api/nonconformances/{id}", "viewer"},
      {"PATCH /api/nonconformances/{id}", "engineer"},
      {"POST /api/nonconformances/{id}/disposition", "pi"},
      {"POST /api/samples/{id}/certificates", "pi"},
      {"GET /api/certificates/{id}", "viewer"},
      {"GET /api/certificates/{id}/pdf", "viewer"},
      {"GET /api/certificates/{id}/verify", "anyone"},

      {"GET /api/eln", "viewer"},
      {"POST /api/eln", "engineer"},
      {"POST /api/eln/preview", "engineer"},  // not in API.md
      {"GET /api/eln/{id}", "viewer"},
      {"PATCH /api/eln/{id}", "engineer"},  // API.md: its author, while unsigned (an author is engineer+)
      {"POST /api/eln/{id}/sign", "technician"},
      {"GET /api/eln/{id}/signatures", "viewer"},
      {"GET /api/eln/{id}/export", "viewer"},

      // Analysis API
      {"GET /api/v1/instruments", "viewer"},
      {"POST /api/v1/instruments", "engineer"},
      {"GET /api/v1/instruments/{id}", "viewer"},
      {"PATCH /api/v1/instruments/{id}", "engineer"},
      {"DELETE /api/v1/instruments/{id}", "engineer"},
      {"GET /api/v1/calibrations", "viewer"},
      {"POST /api/v1/calibrations", "engineer"},
      {"GET /api/v1/calibrations/status/check", "viewer"},
      {"GET /api/v1/calibrations/{id}", "viewer"},
      {"PATCH /api/v1/calibrations/{id}/expire", "admin"},
      {"PATCH /api/v1/calibrations/{id}/revoke", "admin"},
      {"GET /api/v1/runs", "viewer"},
      {"POST /api/v1/runs", "engineer"},
      {"GET /api/v1/runs/{id}", "viewer"},
      {"PATCH /api/v1/runs/{id}/status", "technician"},
      {"POST /api/v1/runs/{id}/unblock", "engineer"},
      {"GET /api/v1/runs/{id}/results", "viewer"},
      {"POST /api/v1/runs/{id}/results", "technician"},
      {"GET /api/v1/import-profiles", "viewer"},
      {"POST /api/v1/import-profiles", "engineer"},
      {"GET /api/v1/import-profiles/{id}", "viewer"},
      {"PATCH /api/v1/import-profiles/{id}", "engineer"},
      {"POST /api/v1/runs/{id}/import", "technician"},
      {"GET /api/v1/runs/{id}/imports", "viewer"},
      {"GET /api/v1/runs/{id}/wafer-map", "viewer"},
      {"GET /api/v1/runs/{id}/bin-map", "viewer"},
      {"POST /api/v1/runs/{id}/bin-map", "technician"},  // API.md names no role: as results (results:write)
      {"GET /api/v1/attachments", "viewer"},
      {"POST /api/v1/attachments", "technician"},
      {"GET /api/v1/attachments/{id}", "viewer"},  // not in API.md
      {"GET /api/v1/attachments/{id}/content", "viewer"},
      {"GET /api/v1/spc/series", "viewer"},
      {"POST /api/v1/spc/series", "engineer"},
      {"GET /api/v1/spc/series/{id}", "viewer"},
      {"PATCH /api/v1/spc/series/{id}", "engineer"},
      {"GET /api/v1/spc/series/{id}/points", "viewer"},
      {"POST /api/v1/spc/series/{id}/points", "technician"},
      {"GET /api/v1/spc/alerts", "viewer"},
      {"GET /api/v1/spc/alerts/{id}", "viewer"},  // not in API.md
      {"PATCH /api/v1/spc/alerts/{id}", "engineer"},
      {"GET /api/v1/ml/feature-sets", "viewer"},
      {"POST /api/v1/ml/feature-sets", "engineer"},
      {"GET /api/v1/ml/feature-sets/{id}", "viewer"},  // not in API.md
      {"GET /api/v1/ml/models", "viewer"},
      {"POST /api/v1/ml/models", "engineer"},
      {"GET /api/v1/ml/models/{id}", "viewer"},  // not in API.md
      {"POST /api/v1/ml/models/{id}/promote", "pi"},

      // LIMS API: notifications (the caller's own) and webhooks
      {"GET /api/notifications", "viewer"},
      {"POST /api/notifications/read-all", "viewer"},
      {"POST /api/notifications/{id}/read", "viewer"},
      {"GET /api/notifications/stream", "viewer"},
      {"GET /api/notification-preferences", "viewer"},
      {"PATCH /api/notification-preferences", "viewer"},
      {"GET /api/webhooks", "admin"},
      {"POST /api/webhooks", "admin"},
      {"GET /api/webhooks/{id}", "admin"},
      {"PATCH /api/webhooks/{id}", "admin"},
      {"DELETE /api/webhooks/{id}", "admin"},
      {"GET /api/webhooks/{id}/deliveries", "admin"},
      {"POST /api/webhooks/{id}/deliveries/{delivery_id}/redeliver", "admin"},
  };
  return rows;
}

// The routes API.md says an API key may never use.
const std::set<std::string>& api_md_users_only() {
  static const std::set<std::string> rows = {"POST /api/eln/{id}/sign", "POST /api/nonconformances/{id}/disposition"};
  return rows;
}

std::string route_key(const kit::Route& r) { return std::string(http::method_name(r.method)) + " " + r.path; }

// ---------------------------------------------------------------------------------------------
// Kinds of objects: what an id names, by the name of its field or by the path segment before it.

using Ids = std::map<std::string, std::string>;  // kind → id

std::optional<std::string> kind_of_field(const std::string& name) {
  static const std::map<std::string, std::string> kinds = {
      {"material_id", "material"},
      {"sample_id", "sample"},
      {"parent_sample_id", "sample"},
      {"sample_ids", "sample"},
      {"wafer_id", "wafer"},
      {"device_id", "device"},
      {"instrument_id", "instrument"},
      {"calibration_id", "calibration"},
      {"recipe_id", "recipe"},
      {"root_recipe_id", "recipe"},
      {"sop_id", "sop"},
      {"run_id", "run"},
      {"run_ids", "run"},
      {"eln_entry_id", "eln"},
      {"entry_id", "eln"},
      {"amends_entry_id", "eln"},
      {"user_id", "user"},
      {"to_user_id", "user"},
      {"author_id", "user"},
      {"actor_id", "user"},
      {"series_id", "series"},
      {"specification_version_id", "specification"},
      {"lineage_id", "specification"},
      {"alert_id", "alert"},
      {"feature_set_id", "feature_set"},
      {"model_id", "model"},
      {"attachment_id", "attachment"},
      {"artifact_attachment_id", "attachment"},
      {"profile_id", "import_profile"},
      {"api_key_id", "api_key"},
      {"delivery_id", "delivery"},
      {"entity_id", "sample"},  // the audit trail's filter names any entity: a sample is one
  };
  auto it = kinds.find(name);
  if (it == kinds.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> kind_of_segment(const std::string& segment) {
  static const std::map<std::string, std::string> kinds = {
      {"users", "user"},          {"api-keys", "api_key"},   {"materials", "material"},
      {"samples", "sample"},      {"wafers", "wafer"},       {"devices", "device"},
      {"recipes", "recipe"},      {"sops", "sop"},           {"eln", "eln"},
      {"instruments", "instrument"}, {"calibrations", "calibration"}, {"runs", "run"},
      {"attachments", "attachment"}, {"series", "series"},   {"alerts", "alert"},
      {"feature-sets", "feature_set"}, {"models", "model"},
      {"specifications", "specification"}, {"nonconformances", "nonconformance"}, {"certificates", "certificate"},
      {"import-profiles", "import_profile"},
      {"notifications", "notification"}, {"webhooks", "webhook"},
  };
  auto it = kinds.find(segment);
  if (it == kinds.end()) return std::nullopt;
  return it->second;
}

// Whether a declared field carries an object's id (or a list of them).
bool names_an_id(const kit::FieldSpec& f) {
  return f.kind == kit::Kind::uuid || f.name.ends_with("_id") ||
         (f.kind == kit::Kind::string_list && f.name.ends_with("_ids"));
}

std::optional<std::string> lookup(const Ids& ids, const std::string& kind) {
  auto it = ids.find(kind);
  if (it == ids.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> segments_of(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : path) {
    if (ch != '/') {
      cur += ch;
      continue;
    }
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool is_param(const std::string& segment) { return segment.size() > 2 && segment.front() == '{' && segment.back() == '}'; }

struct PathParam {
  std::string name, kind;
};

// Each {param} of a path with the kind of object it names: by the segment before it ({id}) or by its
// own name ({run_id}). One it cannot name is a problem: the route fails until it is mapped.
std::vector<PathParam> path_params(const std::string& path, std::vector<std::string>& problems) {
  std::vector<PathParam> out;
  std::string previous;
  for (const auto& s : segments_of(path)) {
    if (is_param(s)) {
      const std::string name = s.substr(1, s.size() - 2);
      const auto kind = name == "id" ? kind_of_segment(previous) : kind_of_field(name);
      if (kind)
        out.push_back({name, *kind});
      else
        problems.push_back("no generator for the path parameter {" + name + "} after /" + previous +
                           ": map it to a kind of object in kind_of_segment() or kind_of_field()");
    }
    previous = s;
  }
  return out;
}

// The path with each parameter replaced by the id of its kind; nothing when one is missing.
std::optional<std::string> render(const std::string& path, const std::vector<PathParam>& params, const Ids& ids) {
  std::string out;
  for (const auto& s : segments_of(path)) {
    out += '/';
    if (!is_param(s)) {
      out += s;
      continue;
    }
    const std::string name = s.substr(1, s.size() - 2);
    auto p = std::find_if(params.begin(), params.end(), [&](const PathParam& x) { return x.name == name; });
    if (p == params.end()) return std::nullopt;
    auto id = lookup(ids, p->kind);
    if (!id) return std::nullopt;
    out += *id;
  }
  return out;
}

std::string percent_encoded(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Values a field accepts, from its declaration alone.

json::value text(std::string_view s) { return json::value(json::string(s)); }

// Values a declaration cannot tell (a rule in code rather than a declared bound), by field name.
const std::map<std::string, json::value>& value_hints() {
  static const std::map<std::string, json::value> hints = {
      {"diameter_mm", json::value(100)},  // one of 50, 76, 100, … (a rule of NewWafer)
      {"email", text("sweep@example.test")},
      {"password", text("Sweep-Correct-Horse-2026")},
  };
  return hints;
}

// Strings for the patterns the declarations use.
const std::map<std::string, std::string>& pattern_values() {
  static const std::map<std::string, std::string> values = {
      {"[A-Za-z0-9][A-Za-z0-9._/-]*", "SWEEP-1"},  // an SOP's code
      {"[0-9a-fA-F]{64}", std::string(64, '0')},   // a SHA-256 in hex
      {"-?[a-z_]+", "created_at"},                 // a list's sort key
  };
  return values;
}

std::optional<json::object> required_members(const std::vector<kit::FieldSpec>& fields);

// A value the field accepts; nothing when its declaration does not tell (an unknown pattern), or when
// it is an id (ids are the sweep's slots, filled per call).
std::optional<json::value> value_for(const kit::FieldSpec& f) {
  if (auto hint = value_hints().find(f.name); hint != value_hints().end()) return hint->second;
  const double low = f.minimum ? *f.minimum : (f.maximum && *f.maximum < 1 ? *f.maximum : 1);
  switch (f.kind) {
    case kit::Kind::string: {
      if (!f.one_of.empty()) return text(f.one_of.front());
      if (!f.pattern.empty()) {
        auto known = pattern_values().find(f.pattern);
        if (known == pattern_values().end()) return std::nullopt;
        return text(known->second);
      }
      return text(std::string("sweep").substr(0, std::max<std::size_t>(1, f.max_length)));
    }
    case kit::Kind::uuid: return std::nullopt;
    case kit::Kind::timestamp:
      // An expiry far ahead, any other time well in the past (not in the future, whatever the clock).
      return text(f.name.starts_with("expires") || f.name.starts_with("ends") ? "2099-12-31T00:00:00Z"
                                                                                : "2024-01-01T00:00:00Z");
    case kit::Kind::integer: return json::value(static_cast<std::int64_t>(low));
    case kit::Kind::number: return json::value(low);
    case kit::Kind::boolean: return json::value(false);
    case kit::Kind::object: {
      if (!f.fields) return json::value(json::object{});
      auto inner = required_members(*f.fields);
      if (!inner) return std::nullopt;
      return json::value(std::move(*inner));
    }
    case kit::Kind::object_list: {
      json::array items;
      if (f.fields) {
        auto inner = required_members(*f.fields);
        if (!inner) return std::nullopt;
        items.emplace_back(std::move(*inner));
      }
      return json::value(std::move(items));
    }
    case kit::Kind::string_list: {
      json::array items;
      items.emplace_back(text(f.one_of.empty() ? std::string("sweep") : f.one_of.front()));
      return json::value(std::move(items));
    }
  }
  return std::nullopt;
}

// The required members of a nested object (its ids too are a problem: nothing to fill them with).
std::optional<json::object> required_members(const std::vector<kit::FieldSpec>& fields) {
  json::object out;
  for (const auto& f : fields) {
    if (!f.required) continue;
    if (names_an_id(f)) return std::nullopt;
    auto v = value_for(f);
    if (!v) return std::nullopt;
    out[f.name] = std::move(*v);
  }
  return out;
}

// The id fields inside a nested object's declaration: "points[].run_id", "settings.x_id".
void nested_ids(const kit::FieldSpec& f, const std::string& prefix, std::vector<std::string>& out) {
  if (!f.fields) return;
  const std::string inner = prefix + f.name + (f.kind == kit::Kind::object_list ? "[]." : ".");
  for (const auto& g : *f.fields) {
    if (names_an_id(g)) out.push_back(inner + g.name);
    nested_ids(g, inner, out);
  }
}

std::string query_text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

// ---------------------------------------------------------------------------------------------
// The organizations: B, the victim, with one object of every kind a route takes by id; A, the caller,
// with its five users, an API key per scope and the few objects of its own its requests need.

struct Victim {
  TestOrg org;
  Ids ids;
  std::string content_sha256;  // of its notebook entry, as its author read it
  std::string refresh_token;   // of its viewer: a secret, not an id
};

json::value answer(const HttpResponse& r, const std::string& what, unsigned status = 201) {
  if (r.status != status) throw std::runtime_error(what + " failed: " + describe(r));
  return r.status == 204 ? json::value() : r.json();
}

std::string id_of(const HttpResponse& r, const std::string& what) { return str(answer(r, what), "id"); }

std::string iso_days(int days) {
  return db_text("SELECT to_char((now() + make_interval(days => $1::int)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                 db::Params(days));
}

Victim make_victim() {
  Victim b{make_org(), {}, {}, {}};
  auto& id = b.ids;
  const std::string admin = login(b.org.admin()), pi = login(b.org.user("pi")), eng = login(b.org.user("engineer")),
                    tech = login(b.org.user("technician"));

  // Samples: a material, a wafer sample with a child, its wafer properties and a device, a custody move.
  id["material"] = id_of(lims("POST", "/api/materials", eng, js(json::object{{"name", "Sweep oxide"}, {"formula", "SiO2"}})),
                         "creating a material");
  id["sample"] = id_of(lims("POST", "/api/samples", eng,
                            js(json::object{{"name", "Sweep wafer"}, {"sample_type", "wafer"}, {"material_id", id["material"]},
                                            {"location", "Cabinet B"}})),
                       "creating a sample");
  const std::string child = id_of(
      lims("POST", "/api/samples", eng,
           js(json::object{{"name", "Sweep die"}, {"sample_type", "die"}, {"parent_sample_id", id["sample"]}})),
      "creating a child sample");
  answer(lims("POST", "/api/samples/" + child + "/custody", tech,
              js(json::object{{"event_type", "transfer"}, {"to_location", "Shelf B"}})),
         "moving the child sample");
  id["wafer"] = id_of(lims("POST", "/api/wafers", eng,
                           js(json::object{{"sample_id", id["sample"]}, {"diameter_mm", 100}, {"orientation", "<100>"},
                                           {"doping_type", "p"}})),
                      "giving the sample wafer properties");
  id["device"] = id_of(lims("POST", "/api/devices", eng,
                            js(json::object{{"wafer_id", id["wafer"]}, {"name", "Sweep device"}, {"die_x", 1}, {"die_y", 2}})),
                       "creating a device");

  // An instrument with a valid calibration; an effective SOP, acknowledged; an approved recipe.
  id["instrument"] = id_of(analysis("POST", "/api/v1/instruments", eng,
                                    js(json::object{{"name", "Sweep ellipsometer"}, {"vendor", "V"}, {"model", "M"},
                                                    {"serial_number", "SWEEP-" + b.org.slug}})),
                           "creating an instrument");
  id["calibration"] = id_of(analysis("POST", "/api/v1/calibrations", eng,
                                     js(json::object{{"instrument_id", id["instrument"]}, {"certificate_number", "SWEEP-CAL"},
                                                     {"calibrated_at", iso_days(-30)}, {"expires_at", iso_days(335)}})),
                            "calibrating the instrument");
  id["sop"] = id_of(lims("POST", "/api/sops", eng,
                         js(json::object{{"code", "SWEEP-SOP"}, {"title", "Sweep procedure"}, {"body_markdown", "1. Measure."}})),
                    "creating an SOP");
  answer(lims("POST", "/api/sops/" + id["sop"] + "/approve", pi), "approving the SOP", 200);
  answer(lims("POST", "/api/sops/" + id["sop"] + "/acknowledge", tech), "acknowledging the SOP");
  id["recipe"] = id_of(lims("POST", "/api/recipes", eng,
                            js(json::object{{"name", "Sweep recipe"}, {"parameters", json::object{{"temperature_c", 900}}},
                                            {"instrument_id", id["instrument"]}, {"sop_id", id["sop"]}})),
                       "creating a recipe");
  answer(lims("POST", "/api/recipes/" + id["recipe"] + "/submit", eng), "submitting the recipe", 200);
  answer(lims("POST", "/api/recipes/" + id["recipe"] + "/approve", pi, js(json::object{{"comment", "Fine"}})),
         "approving the recipe", 200);

  // A webhook endpoint with a delivery (due in a year, and of an event nothing here raises: nothing is
  // sent), and a notification of the admin's.
  id["webhook"] = id_of(lims("POST", "/api/webhooks", admin,
                             js(json::object{{"url", "https://93.184.216.34/sweep"}, {"events", json::array{"booking.cancelled"}}})),
                        "registering a webhook");
  id["delivery"] = db_text("INSERT INTO webhook_deliveries (organization_id, endpoint_id, message_id, event, payload,"
                           " next_attempt_at) VALUES ($1, $2, 'msg_sweep', 'booking.cancelled', '{}', now() + interval '1 year')"
                           " RETURNING id",
                           db::Params(b.org.id, id["webhook"]));
  id["notification"] = db_text("INSERT INTO notifications (organization_id, user_id, seq, event, title, body)"
                               " VALUES ($1, $2, 1000000, 'recipe.submitted', 'Sweep', 'Sweep') RETURNING id",
                               db::Params(b.org.id, b.org.admin().id));

  // An effective specification for the recipe: the run below binds it (its results pass).
  id["specification"] = id_of(
      lims("POST", "/api/specifications", eng,
           js(json::object{{"name", "Sweep spec"}, {"applies_to", json::object{{"recipe_id", id["recipe"]}}},
                           {"limits", json::array{json::object{{"metric", "thickness_nm"}, {"unit", "nm"}, {"lsl", 95},
                                                               {"usl", 105}}}}})),
      "creating a specification");
  answer(lims("POST", "/api/specifications/" + id["specification"] + "/approve", pi), "approving the specification", 200);

  // A running run with results and a file.
  id["run"] = id_of(analysis("POST", "/api/v1/runs", eng,
                             js(json::object{{"instrument_id", id["instrument"]}, {"sample_id", id["sample"]},
                                             {"recipe_id", id["recipe"]}, {"sop_id", id["sop"]}})),
                    "creating a run");
  answer(analysis("PATCH", "/api/v1/runs/" + id["run"] + "/status", tech, js(json::object{{"status", "RUNNING"}})),
         "starting the run", 200);
  answer(analysis("POST", "/api/v1/runs/" + id["run"] + "/results", tech,
                  js(json::object{{"results", json::array{json::object{{"metric", "thickness_nm"}, {"value", 101.5}, {"unit", "nm"}},
                                                          json::object{{"metric", "refractive_index"}, {"value", 1.46}}}}})),
         "recording results");
  id["attachment"] = id_of(analysis("POST", "/api/v1/attachments?run_id=" + id["run"] + "&filename=sweep.csv", tech,
                                    "site,thickness_nm\n1,101.5\n", {{"Content-Type", "text/csv"}}),
                           "uploading a file to the run");

  // A failure on the child sample's run: a nonconformance (the child quarantined). A certificate of the
  // wafer, whose results pass.
  const std::string failing = id_of(analysis("POST", "/api/v1/runs", eng,
                                             js(json::object{{"instrument_id", id["instrument"]}, {"sample_id", child},
                                                             {"recipe_id", id["recipe"]}})),
                                    "creating a run on the child sample");
  answer(analysis("PATCH", "/api/v1/runs/" + failing + "/status", tech, js(json::object{{"status", "RUNNING"}})),
         "starting the child's run", 200);
  answer(analysis("POST", "/api/v1/runs/" + failing + "/results", tech,
                  js(json::object{{"metric", "thickness_nm"}, {"value", 120}, {"unit", "nm"}})),
         "recording a failing result");
  id["import_profile"] = id_of(analysis("POST", "/api/v1/import-profiles", eng,
                                        js(json::object{{"name", "Sweep profile"}, {"instrument_id", id["instrument"]},
                                                        {"format", "csv"},
                                                        {"columns", json::object{{"metric", "m"}, {"value", "v"}}}})),
                               "creating an import profile");
  id["nonconformance"] = db_text("SELECT id FROM nonconformances WHERE organization_id = $1 AND run_id = $2",
                                 db::Params(b.org.id, failing));
  if (id["nonconformance"] == "<no row>") throw std::runtime_error("a failing result opened no nonconformance");
  id["certificate"] = id_of(lims("POST", "/api/samples/" + id["sample"] + "/certificates", pi,
                                 js(json::object{{"password", b.org.user("pi").password}})),
                            "issuing a certificate");

  // A notebook entry about the sample, with a file, signed by its author (locked).
  id["eln"] = id_of(lims("POST", "/api/eln", eng,
                         js(json::object{{"title", "Sweep entry"}, {"body_markdown", "Measured the **wafer**."},
                                         {"tags", json::array{"sweep"}}, {"sample_ids", json::array{id["sample"]}}})),
                    "writing a notebook entry");
  answer(analysis("POST", "/api/v1/attachments?eln_entry_id=" + id["eln"] + "&filename=notes.txt", eng, "Notes.\n",
                  {{"Content-Type", "text/plain"}}),
         "attaching a file to the entry");
  b.content_sha256 = str(answer(lims("GET", "/api/eln/" + id["eln"], eng), "reading the entry", 200), "content_sha256");
  answer(lims("POST", "/api/eln/" + id["eln"] + "/sign", eng,
              js(json::object{{"password", b.org.user("engineer").password}, {"meaning", "author"},
                              {"content_sha256", b.content_sha256}})),
         "signing the entry");

  // An SPC series with points, one beyond its limits (an open alert).
  id["series"] = id_of(analysis("POST", "/api/v1/spc/series", eng,
                                js(json::object{{"name", "Sweep series"}, {"metric", "thickness_nm"}, {"unit", "nm"},
                                                {"chart_type", "I-MR"}, {"ucl", 103}, {"lcl", 97}, {"center_line", 100},
                                                {"instrument_id", id["instrument"]}})),
                       "creating an SPC series");
  answer(analysis("POST", "/api/v1/spc/series/" + id["series"] + "/points", tech,
                  js(json::object{{"points", json::array{json::object{{"value", 100.5}},
                                                         json::object{{"value", 110}, {"run_id", id["run"]}}}}})),
         "adding points");
  id["alert"] = db_text("SELECT id FROM spc_alerts WHERE organization_id = $1 AND series_id = $2", db::Params(b.org.id, id["series"]));
  if (id["alert"] == "<no row>") throw std::runtime_error("a point beyond the control limits opened no alert");

  // The ML registry: a feature set and a model over it, with the run's file as its artifact, promoted.
  id["feature_set"] = id_of(analysis("POST", "/api/v1/ml/feature-sets", eng,
                                     js(json::object{{"name", "Sweep features"},
                                                     {"features", json::array{json::object{{"name", "thickness_nm"}, {"dtype", "float64"}}}}})),
                            "creating a feature set");
  id["model"] = id_of(analysis("POST", "/api/v1/ml/models", eng,
                               js(json::object{{"name", "Sweep model"}, {"version", "1.0"}, {"feature_set_id", id["feature_set"]},
                                               {"algorithm", "ridge"}, {"metrics", json::object{{"rmse", 0.1}}},
                                               {"artifact_attachment_id", id["attachment"]}})),
                      "registering a model");
  answer(analysis("POST", "/api/v1/ml/models/" + id["model"] + "/promote", pi, js(json::object{{"stage", "staging"}})),
         "promoting the model", 200);

  // A user and an API key made through the API; a refresh token (a secret, for the logout route).
  id["user"] = add_user(b.org, "technician", "sweep").id;
  id["api_key"] = id_of(lims("POST", "/api/api-keys", admin,
                             js(json::object{{"name", "Sweep robot"}, {"scopes", json::array{"samples:read"}}})),
                        "creating an API key");
  const auto& viewer = b.org.user("viewer");
  b.refresh_token = str(answer(lims("POST", "/api/auth/login", {},
                                    js(json::object{{"email", viewer.email}, {"password", viewer.password}})),
                               "signing in", 200),
                        "refresh_token");
  return b;
}

// A's own objects, where a request needs a valid reference of its own beside the foreign one (a run
// names an instrument and a sample), or its own object in the path with a foreign id in the body.
Ids make_own(const TestOrg& a) {
  const std::string eng = login(a.user("engineer"));
  Ids own;
  own["user"] = a.user("technician").id;
  own["instrument"] = id_of(analysis("POST", "/api/v1/instruments", eng,
                                     js(json::object{{"name", "Own tool"}, {"vendor", "V"}, {"model", "M"},
                                                     {"serial_number", "OWN-" + a.slug}})),
                            "creating an instrument of the caller's organization");
  own["sample"] = id_of(lims("POST", "/api/samples", eng,
                             js(json::object{{"name", "Own wafer"}, {"sample_type", "wafer"}, {"location", "Cabinet A"}})),
                        "creating a sample of the caller's organization");
  own["recipe"] = id_of(lims("POST", "/api/recipes", eng, js(json::object{{"name", "Own recipe"}, {"parameters", json::object{}}})),
                        "creating a recipe of the caller's organization");
  own["eln"] = id_of(lims("POST", "/api/eln", eng, js(json::object{{"title", "Own entry"}, {"body_markdown", "Own notes."}})),
                     "writing a notebook entry of the caller's organization");
  own["series"] = id_of(analysis("POST", "/api/v1/spc/series", eng,
                                 js(json::object{{"name", "Own series"}, {"metric", "thickness_nm"}, {"chart_type", "I-MR"},
                                                 {"ucl", 103}, {"lcl", 97}})),
                        "creating an SPC series of the caller's organization");
  own["feature_set"] = id_of(analysis("POST", "/api/v1/ml/feature-sets", eng,
                                      js(json::object{{"name", "Own features"},
                                                      {"features", json::array{json::object{{"name", "x"}, {"dtype", "float64"}}}}})),
                             "creating a feature set of the caller's organization");
  return own;
}

struct Caller {
  std::string name;      // "engineer", "key samples:read"
  std::string token;
  std::string password;  // a user's, for the routes that ask for it again; empty for a key
  auth::Principal who;   // what auth::decide judges
};

// The role every key of the sweep has: the highest a key may have (an API key is never an admin).
constexpr auth::Role key_role = auth::Role::pi;

std::vector<Caller> callers_of(const TestOrg& a) {
  std::vector<Caller> out;
  for (const auto role : auth::role_names) {
    const auto& u = a.user(std::string(role));
    Caller c{std::string(role), login(u), u.password, {}};
    c.who.role = *auth::parse_role(role);
    c.who.kind = auth::CredentialKind::access_token;
    out.push_back(std::move(c));
  }
  // Made with one admin token (support's api_key() signs in again for each).
  const std::string admin = login(a.admin());
  for (const auto scope : auth::known_scopes()) {
    json::array scopes;
    scopes.emplace_back(json::string(scope));
    auto r = lims("POST", "/api/api-keys", admin,
                  js(json::object{{"name", "sweep " + std::string(scope)}, {"scopes", std::move(scopes)},
                                  {"role", std::string(auth::role_name(key_role))}}));
    Caller c{"key " + std::string(scope), str(answer(r, "creating an API key with " + std::string(scope)), "key"), {}, {}};
    c.who.role = key_role;
    c.who.kind = auth::CredentialKind::api_key;
    c.who.scopes = {std::string(scope)};
    out.push_back(std::move(c));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The calls: for each route and caller, the requests that carry B's ids, built from the route's inputs.

enum class Where { body, query, nested, upload };

// A place where an id goes.
struct Slot {
  std::string field = {};  // the JSON member or query parameter, as a problem answer names it
  std::string kind = {};
  Where where = Where::body;
  bool list = false;      // a list of ids: ["…"]
  bool required = false;  // given A's own id when another slot carries B's
  std::string covers = {};  // nested: the declared field it stands for ("points[].run_id")
  std::function<json::object(const std::string& id)> nested = {};  // nested: the whole body with this id
};

struct Context {
  const Victim& b;
  const Ids& own;
  const Caller& caller;
};

// What a route's declaration cannot tell, by "METHOD /path".
struct Override {
  std::function<json::object(const Context&)> base = {};  // members set over the generated body
  std::vector<Slot> slots = {};                           // ids inside nested objects or inside an upload
  // An upload's content type and bytes, with B's id where an upload slot says (nullptr: none).
  std::function<std::pair<std::string, std::string>(const Slot*, const std::string& id)> upload = {};
  // Bodies carrying B's secrets (not ids): whatever they answer, B's rows must not change.
  std::function<std::vector<json::object>(const Context&)> secrets = {};
};

// A specification's body, applying to one thing.
json::object spec_body(const char* applies, const std::string& value) {
  return json::object{{"name", "Sweep spec"},
                      {"applies_to", json::object{{applies, value}}},
                      {"limits", json::array{json::object{{"metric", "t"}, {"lsl", 1}, {"usl", 2}}}}};
}

const std::map<std::string, Override>& overrides() {
  static const std::map<std::string, Override> table = {
      // Signing needs the signer's own password again and the hash the signer read (B's entry's).
      {"POST /api/eln/{id}/sign",
       {.base = [](const Context& c) {
          return json::object{{"password", c.caller.password}, {"meaning", "reviewer"}, {"content_sha256", c.b.content_sha256}};
        }}},
      // One result needs metric and value (a rule across fields, not a required field).
      {"POST /api/v1/runs/{id}/results", {.base = [](const Context&) { return json::object{{"metric", "thickness_nm"}, {"value", 99.5}}; }}},
      // One point needs its value; a batch names its runs inside its points.
      {"POST /api/v1/spc/series/{id}/points",
       {.base = [](const Context&) { return json::object{{"value", 99.5}}; },
        .slots = {Slot{.field = "points[0].run_id",
                       .kind = "run",
                       .where = Where::nested,
                       .covers = "points[].run_id",
                       .nested = [](const std::string& id) {
                         return json::object{{"points", json::array{json::object{{"value", 99.5}, {"run_id", id}}}}};
                       }}}}},
      // A series fed by results names its source's instrument and recipe inside `source`.
      {"POST /api/v1/spc/series",
       {.slots = {Slot{.field = "source.instrument_id",
                       .kind = "instrument",
                       .where = Where::nested,
                       .covers = "source.instrument_id",
                       .nested = [](const std::string& id) {
                         return json::object{{"name", "Sweep fed"}, {"metric", "t"}, {"chart_type", "I-MR"}, {"ucl", 103},
                                             {"lcl", 97}, {"source", json::object{{"metric", "t"}, {"instrument_id", id}}}};
                       }},
                  Slot{.field = "source.recipe_id",
                       .kind = "recipe",
                       .where = Where::nested,
                       .covers = "source.recipe_id",
                       .nested = [](const std::string& id) {
                         return json::object{{"name", "Sweep fed"}, {"metric", "t"}, {"chart_type", "I-MR"}, {"ucl", 103},
                                             {"lcl", 97}, {"source", json::object{{"metric", "t"}, {"recipe_id", id}}}};
                       }}}}},
      // A specification needs what it applies to and its limits; the references are inside applies_to.
      {"POST /api/specifications",
       {.base = [](const Context&) { return spec_body("sample_type", "wafer"); },
        .slots = {Slot{.field = "applies_to.material_id", .kind = "material", .where = Where::nested,
                       .covers = "applies_to.material_id",
                       .nested = [](const std::string& id) { return spec_body("material_id", id); }},
                  Slot{.field = "applies_to.recipe_id", .kind = "recipe", .where = Where::nested,
                       .covers = "applies_to.recipe_id",
                       .nested = [](const std::string& id) { return spec_body("recipe_id", id); }}}}},
      {"PATCH /api/specifications/{id}",
       {.slots = {Slot{.field = "applies_to.material_id", .kind = "material", .where = Where::nested,
                       .covers = "applies_to.material_id",
                       .nested = [](const std::string& id) {
                         return json::object{{"applies_to", json::object{{"material_id", id}}}};
                       }},
                  Slot{.field = "applies_to.recipe_id", .kind = "recipe", .where = Where::nested,
                       .covers = "applies_to.recipe_id",
                       .nested = [](const std::string& id) {
                         return json::object{{"applies_to", json::object{{"recipe_id", id}}}};
                       }}}}},
      {"POST /api/specifications/{id}/reject", {.base = [](const Context&) { return json::object{{"comment", "Not this one"}}; }}},
      // A disposition and a certificate are signed with the caller's own password.
      {"POST /api/nonconformances/{id}/disposition",
       {.base = [](const Context& c) { return json::object{{"disposition", "use_as_is"}, {"password", c.caller.password}}; }}},
      {"POST /api/samples/{id}/certificates",
       {.base = [](const Context& c) { return json::object{{"password", c.caller.password}}; }}},
      // A person takes a sample only by a check-out.
      {"POST /api/samples/{id}/custody", {.base = [](const Context&) { return json::object{{"event_type", "check_out"}}; }}},
      // A profile needs its format and columns; an import is a form with the file and the profile's id.
      {"POST /api/v1/import-profiles",
       {.base = [](const Context&) {
          return json::object{{"name", "Sweep profile"}, {"format", "csv"}, {"columns", json::object{{"metric", "m"}, {"value", "v"}}}};
        }}},
      {"POST /api/v1/runs/{id}/import",
       {.slots = {Slot{.field = "profile_id", .kind = "import_profile", .where = Where::upload}},
        .upload = [](const Slot*, const std::string& id) {
          const std::string profile = id.empty() ? "00000000-0000-4000-8000-000000000000" : id;
          return std::pair<std::string, std::string>{
              "multipart/form-data; boundary=sweep",
              "--sweep\r\nContent-Disposition: form-data; name=\"profile_id\"\r\n\r\n" + profile +
                  "\r\n--sweep\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sweep.csv\"\r\n"
                  "Content-Type: text/csv\r\n\r\nm,v\r\nthickness_nm,99.5\r\n--sweep--\r\n"};
        }}},
      {"POST /api/v1/runs/{id}/bin-map",
       {.upload = [](const Slot*, const std::string&) {
          return std::pair<std::string, std::string>{
              "application/xml",
              "<Map WaferId=\"W\"><Device BinType=\"Decimal\" NullBin=\"255\" Rows=\"1\" Columns=\"2\">"
              "<Bin BinCode=\"1\" BinCount=\"1\" BinQuality=\"Pass\"/><Data><Row>1 255</Row></Data></Device></Map>"};
        }}},
      // A raw upload; its targets are query parameters (run_id, sample_id, eln_entry_id).
      {"POST /api/v1/attachments",
       {.upload = [](const Slot*, const std::string&) { return std::pair<std::string, std::string>{"text/plain", "Sweep bytes.\n"}; }}},
      // A CSV import: the ids are cells of its rows.
      {"POST /api/samples/import",
       {.slots = {Slot{.field = "rows[1].material_id", .kind = "material", .where = Where::upload},
                  Slot{.field = "rows[1].parent_sample_id", .kind = "sample", .where = Where::upload}},
        .upload = [](const Slot* s, const std::string& id) {
          if (!s) return std::pair<std::string, std::string>{"text/csv", "name,sample_type\r\nSweep import,powder\r\n"};
          const std::string column = s->field.substr(s->field.find('.') + 1);
          return std::pair<std::string, std::string>{"text/csv",
                                                     "name,sample_type," + column + "\r\nSweep import,powder," + id + "\r\n"};
        }}},
      // Logging out with B's refresh token: it answers 204 for any token (it ends only the caller's own
      // sessions), so the answer tells nothing; B's refresh tokens must stay as they were.
      {"POST /api/auth/logout",
       {.secrets = [](const Context& c) { return std::vector<json::object>{json::object{{"refresh_token", c.b.refresh_token}}}; }}},
  };
  return table;
}

enum class Owner { none, victim, own };  // whose object the path names

struct Call {
  std::string target;  // path and query
  std::string body;
  Headers headers;
  std::set<std::string> foreign;  // fields given B's ids: a 422 may name only these
  Owner path = Owner::none;
  bool list = false;    // a GET of a list: 200, empty
  bool csv = false;     // … as CSV: the header alone
  bool secret = false;  // carries B's secret, not an id: B's rows judge it
  std::string what;
};

struct Plan {
  std::vector<Call> calls;  // for callers the guard admits
  Call refused;             // for callers below the guard
  std::vector<std::string> problems;
};

Plan plan(const kit::Route& r, const Context& ctx) {
  Plan p;
  const std::string key = route_key(r);
  const auto found = overrides().find(key);
  const Override* ov = found == overrides().end() ? nullptr : &found->second;
  const auto params = path_params(r.path, p.problems);

  std::vector<Slot> slots;
  auto add_slot = [&](const kit::FieldSpec& f, Where where) {
    const auto kind = kind_of_field(f.name);
    if (!kind) {
      p.problems.push_back("no generator for the id field " + f.name + ": map its name to a kind of object in kind_of_field()");
      return;
    }
    slots.push_back(Slot{.field = f.name, .kind = *kind, .where = where, .list = f.kind == kit::Kind::string_list,
                         .required = f.required});
  };

  // The body: its required members from the declaration, the override's over them; ids are slots.
  json::object base;
  if (r.inputs.body == kit::BodyKind::json && r.inputs.body_fields) {
    for (const auto& f : *r.inputs.body_fields) {
      if (names_an_id(f)) {
        add_slot(f, Where::body);
        continue;
      }
      std::vector<std::string> inner;
      nested_ids(f, "", inner);
      for (const auto& n : inner) {
        const bool covered = ov && std::any_of(ov->slots.begin(), ov->slots.end(), [&](const Slot& s) { return s.covers == n; });
        if (!covered) p.problems.push_back("no generator for the nested id field " + n + ": write an override with a nested slot");
      }
      if (!f.required) continue;
      auto v = value_for(f);
      if (!v)
        p.problems.push_back("no generator for the body field " + f.name + (f.pattern.empty() ? "" : " (pattern " + f.pattern + ")") +
                             ": add a value in value_hints(), pattern_values() or an override");
      else
        base[f.name] = std::move(*v);
    }
    if (ov && ov->base) {
      auto over = ov->base(ctx);
      for (auto& [k, v] : over) base[k] = v;
    }
  }
  if (r.inputs.body == kit::BodyKind::upload && !(ov && ov->upload))
    p.problems.push_back("no generator for its body (an upload, not JSON): write an override with an upload");

  // The query: required parameters from the declaration; ids are slots.
  std::vector<std::pair<std::string, std::string>> query;
  bool is_list = false, has_csv = false;
  for (const auto* spec : r.inputs.query)
    for (const auto& f : *spec) {
      if (f.name == "cursor") is_list = true;
      if (f.name == "format" && std::find(f.one_of.begin(), f.one_of.end(), "csv") != f.one_of.end()) has_csv = true;
      if (names_an_id(f)) {
        add_slot(f, Where::query);
        continue;
      }
      if (!f.required) continue;
      auto v = value_for(f);
      if (!v)
        p.problems.push_back("no generator for the query parameter " + f.name + ": add a value in value_hints() or pattern_values()");
      else
        query.emplace_back(f.name, query_text(*v));
    }
  if (ov)
    for (const auto& s : ov->slots) slots.push_back(s);

  // One request: `ids` gives slots their ids (by field), `foreign` names those that are B's.
  auto build = [&](const std::map<std::string, std::string>& ids, const std::set<std::string>& foreign,
                   const std::optional<std::string>& path, Owner owner) {
    Call c;
    c.path = owner;
    c.foreign = foreign;
    c.target = path.value_or(r.path);
    auto q = query;
    json::object body = base;
    const Slot* upload_slot = nullptr;
    std::string upload_id;
    for (const auto& s : slots) {
      auto given = ids.find(s.field);
      if (given == ids.end()) continue;
      switch (s.where) {
        case Where::query: q.emplace_back(s.field, given->second); break;
        case Where::body:
          if (s.list) {
            json::array items;
            items.emplace_back(json::string(given->second));
            body[s.field] = std::move(items);
          } else {
            body[s.field] = text(given->second);
          }
          break;
        case Where::nested: body = s.nested(given->second); break;  // the whole body for it
        case Where::upload:
          upload_slot = &s;
          upload_id = given->second;
          break;
      }
    }
    for (std::size_t i = 0; i < q.size(); ++i)
      c.target += (i == 0 ? "?" : "&") + percent_encoded(q[i].first) + "=" + percent_encoded(q[i].second);
    if (r.inputs.body == kit::BodyKind::json) {
      c.body = json::serialize(body);
    } else if (r.inputs.body == kit::BodyKind::upload && ov && ov->upload) {
      auto [type, bytes] = ov->upload(upload_slot, upload_id);
      c.body = std::move(bytes);
      c.headers.emplace_back("Content-Type", std::move(type));
    }
    return c;
  };
  // B's id in one slot, A's own in the other required ones (B's when A has none of that kind).
  auto one_foreign = [&](const Slot& s, const std::string& b_id, std::set<std::string>& foreign) {
    std::map<std::string, std::string> ids{{s.field, b_id}};
    foreign.insert(s.field);
    for (const auto& t : slots) {
      if (&t == &s || !t.required || t.where == Where::nested || t.where == Where::upload) continue;
      if (auto mine = lookup(ctx.own, t.kind)) {
        ids[t.field] = *mine;
      } else if (auto theirs = lookup(ctx.b.ids, t.kind)) {
        ids[t.field] = *theirs;
        foreign.insert(t.field);
      }
    }
    return ids;
  };

  // The call with B's id in slot s (false, and a problem, when B has no object of its kind).
  auto foreign_call = [&](const Slot& s, const std::optional<std::string>& path, Owner owner, Call& out) {
    auto b_id = lookup(ctx.b.ids, s.kind);
    if (!b_id) {
      p.problems.push_back("the other organization has no " + s.kind + " for " + s.field + ": create one in make_victim()");
      return false;
    }
    std::set<std::string> foreign;
    const auto ids = one_foreign(s, *b_id, foreign);
    out = build(ids, foreign, path, owner);
    return true;
  };

  if (!params.empty()) {
    // B's object in the path, and B's ids in every body and query slot.
    const auto theirs = render(r.path, params, ctx.b.ids);
    if (!theirs) {
      p.problems.push_back("the other organization has no object for a parameter of this path: create one in make_victim()");
    } else {
      std::map<std::string, std::string> ids;
      std::set<std::string> foreign;
      for (const auto& s : slots) {
        if (s.where != Where::body && s.where != Where::query) continue;
        if (auto id = lookup(ctx.b.ids, s.kind)) {
          ids[s.field] = *id;
          foreign.insert(s.field);
        }
      }
      Call c = build(ids, foreign, theirs, Owner::victim);
      c.what = "the path names the other organization's object";
      p.calls.push_back(std::move(c));
    }
    // A's own object in the path, one of B's ids in the body or the query (where A has that kind).
    if (const auto mine = render(r.path, params, ctx.own))
      for (const auto& s : slots) {
        Call c;
        if (!foreign_call(s, mine, Owner::own, c)) continue;
        c.what = "the caller's own object, " + s.field + " the other organization's " + s.kind;
        p.calls.push_back(std::move(c));
      }
  } else {
    for (const auto& s : slots) {
      Call c;
      if (!foreign_call(s, std::nullopt, Owner::none, c)) continue;
      c.what = s.field + " the other organization's " + s.kind;
      c.list = r.method == http::Method::GET && is_list;
      if (c.list && has_csv) {
        Call csv = c;
        csv.target += (csv.target.find('?') == std::string::npos ? "?" : "&") + std::string("format=csv");
        csv.csv = true;
        csv.what += ", as CSV";
        p.calls.push_back(std::move(c));
        p.calls.push_back(std::move(csv));
      } else {
        p.calls.push_back(std::move(c));
      }
    }
  }
  if (ov && ov->secrets)
    for (const auto& secret : ov->secrets(ctx)) {
      Call c = build({}, {}, render(r.path, params, ctx.b.ids), params.empty() ? Owner::none : Owner::victim);
      c.body = json::serialize(secret);
      c.secret = true;
      c.what = "the other organization's secret in the body";
      p.calls.push_back(std::move(c));
    }

  // For callers below the guard: the first foreign call, else one with nothing foreign.
  if (!p.calls.empty()) {
    p.refused = p.calls.front();
  } else {
    std::map<std::string, std::string> ids;
    for (const auto& s : slots)
      if (s.required && (s.where == Where::body || s.where == Where::query))
        if (auto mine = lookup(ctx.own, s.kind)) ids[s.field] = *mine;
    p.refused = build(ids, {}, std::nullopt, Owner::none);
    if (!p.problems.empty() && r.inputs.body == kit::BodyKind::json) p.refused.body = "{}";  // the guard answers first
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Judging the answers.

// Failures by route, the first few of each reported in full.
class Reporter {
 public:
  void fail(const std::string& route, const std::string& message) {
    if (++failures_[route] <= max_per_route) ADD_FAILURE() << message;
  }
  void summary() const {
    for (const auto& [route, n] : failures_)
      if (n > max_per_route) ADD_FAILURE() << route << ": " << (n - max_per_route) << " more failures like those above";
  }

 private:
  static constexpr int max_per_route = 6;
  std::map<std::string, int> failures_;
};

// Whether a 422 names only fields that were given B's ids ("sample_ids" also covers "sample_ids[0]").
bool names_only(const HttpResponse& r, const std::set<std::string>& foreign) {
  const auto fields = error_fields(r);
  if (fields.empty()) return false;
  return std::all_of(fields.begin(), fields.end(), [&](const std::string& f) {
    return std::any_of(foreign.begin(), foreign.end(),
                       [&](const std::string& g) { return f == g || f.starts_with(g + "[") || f.starts_with(g + "."); });
  });
}

// The rows of a CSV answer after its header.
std::size_t data_lines(const std::string& csv) {
  std::size_t lines = 0;
  std::string line;
  for (char ch : csv) {
    if (ch != '\n') {
      if (ch != '\r') line += ch;
      continue;
    }
    if (!line.empty()) ++lines;
    line.clear();
  }
  if (!line.empty()) ++lines;
  return lines == 0 ? 0 : lines - 1;
}

void judge(Reporter& report, const kit::Route& r, const Caller& who, const Call& c, bool admitted, const HttpResponse& res) {
  const std::string key = route_key(r);
  auto fail = [&](const std::string& why) {
    report.fail(key, std::string(http::method_name(r.method)) + " " + c.target + " as " + who.name +
                         (c.what.empty() ? "" : " [" + c.what + "]") + ": " + why + "\n    answered " + describe(res));
  };
  if (res.status == 0 || res.status >= 500) return fail("a server error");
  if (!admitted) {
    if (res.status != 403) fail("the guard does not admit this caller: 403 expected");
    return;
  }
  if (res.status == 403 && c.path != Owner::own)
    return fail("403 to a caller the guard admits (another organization's id is 404, never 403)");
  if (c.secret) return;  // B's rows judge it
  if (c.list) {
    if (res.status != 200) return fail("a list filtered by another organization's id answers 200, empty");
    if (c.csv) {
      if (data_lines(res.body) != 0) fail("the CSV export holds rows of another organization's");
      return;
    }
    try {
      if (!res.json().at("items").as_array().empty()) fail("the list shows another organization's objects");
    } catch (const std::exception& e) {
      fail(std::string("not a list: ") + e.what());
    }
    return;
  }
  if (res.status >= 200 && res.status < 300) return fail("a 2xx with another organization's id");
  const bool named = res.status == 422 && names_only(res, c.foreign);
  if (c.path == Owner::own) {
    if (!(named || res.status == 403 || res.status == 404 || res.status == 409))
      fail("refused expected: 422 naming only the fields given another organization's ids, or 404, 403, 409");
  } else if (!(named || res.status == 404)) {
    fail("404 expected (or 422 naming only the fields given another organization's ids)");
  }
}

bool admits(const kit::Route& r, const Caller& c) {
  auth::Guard guard = r.guard;
  const auto row = api_md_guards().find(route_key(r));
  if (row != api_md_guards().end() && row->second != "anyone")
    if (auto role = auth::parse_role(row->second)) guard.min_role = *role;  // as API.md states it
  return auth::decide(c.who, guard) == auth::Decision::allow;
}

HttpResponse call_route(bool on_lims, const kit::Route& r, const Call& c, const std::string& token) {
  const std::string method(http::method_name(r.method));
  return on_lims ? lims(method, c.target, token, c.body, c.headers) : analysis(method, c.target, token, c.body, c.headers);
}

// ---------------------------------------------------------------------------------------------
// B's rows: a checksum of every table with an organization_id (schemas public and directory), and
// B's row of organizations.

std::map<std::string, std::string> snapshot(const std::string& org_id) {
  std::map<std::string, std::string> out;
  auto tables = owner().exec(
      "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname IN ('public', 'directory')"
      "   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id'"
      "               AND NOT a.attisdropped)"
      " ORDER BY 1");
  for (int i = 0; i < tables.rows(); ++i) {
    const std::string table(tables.get(i, 0));
    // The notification dispatcher's own bookkeeping moves with the clock (a digest's day), not with requests.
    if (table == "public.outbox_cursors") continue;
    out[table] = db_text("SELECT count(*) || ' rows, md5 ' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                         " FROM " + table + " t WHERE t.organization_id = $1",
                         db::Params(org_id));
  }
  out["public.organizations"] =
      db_text("SELECT count(*) || ' rows, md5 ' || md5(coalesce(string_agg(t::text, '|'), '')) FROM organizations t WHERE t.id = $1",
              db::Params(org_id));
  return out;
}

std::int64_t audit_events_of(const std::string& org_id) {
  return count("SELECT count(*) FROM audit_events WHERE organization_id = $1", db::Params(org_id));
}

struct Served {
  bool on_lims;
  const kit::Route* route;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST(Sweep, EveryRouteHasTheGuardApiMdStates) {
  const kit::Router lims_table = lims_router(), analysis_table = analysis_router();
  std::set<std::string> served;
  for (const auto* table : {&lims_table, &analysis_table})
    for (const auto& r : table->routes()) {
      const std::string key = route_key(r);
      served.insert(key);
      const auto row = api_md_guards().find(key);
      if (row == api_md_guards().end()) {
        ADD_FAILURE() << key << " has no row in api_md_guards(): add the role API.md states for it";
        continue;
      }
      if (row->second == "anyone") {
        EXPECT_FALSE(r.guard.authenticated) << key << ": API.md lets anyone call it";
        continue;
      }
      EXPECT_TRUE(r.guard.authenticated) << key << ": API.md wants " << row->second;
      EXPECT_EQ(std::string(auth::role_name(r.guard.min_role)), row->second) << key << ": the route's guard is not API.md's";
    }
  for (const auto& [key, role] : api_md_guards())
    EXPECT_TRUE(served.contains(key)) << key << " (" << role << ") is a row of api_md_guards() but no route serves it";
  for (const auto& key : api_md_users_only()) {
    EXPECT_TRUE(served.contains(key)) << key;
    for (const auto* table : {&lims_table, &analysis_table})
      for (const auto& r : table->routes())
        if (route_key(r) == key) {
          EXPECT_FALSE(r.guard.api_keys) << key << ": API.md says an API key may not do this";
        }
  }
}

TEST(Sweep, NoRouteShowsOrChangesAnotherOrganizationsData) {
  const Victim victim = make_victim();
  const TestOrg org = make_org();
  const Ids own = make_own(org);
  const std::vector<Caller> callers = callers_of(org);

  ASSERT_TRUE(wait_for_audit_links(victim.org.id));
  // And the notifications of B's own changes are written (the dispatcher follows B's chain to its head).
  for (int i = 0; i < 150; ++i) {
    if (count("SELECT count(*) FROM outbox_cursors c WHERE c.organization_id = $1 AND c.id = 'notifications'"
              " AND c.last_seq = (SELECT max(seq) FROM audit_events a WHERE a.organization_id = $1)",
              db::Params(victim.org.id)) == 1)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto before = snapshot(victim.org.id);
  const auto audit_before = audit_events_of(victim.org.id);
  ASSERT_GT(before.size(), 20u) << "the snapshot found too few tables with an organization_id";

  const kit::Router lims_table = lims_router(), analysis_table = analysis_router();
  std::vector<Served> walk;
  std::size_t skipped = 0;
  for (const auto& r : lims_table.routes()) walk.push_back({true, &r});
  for (const auto& r : analysis_table.routes()) walk.push_back({false, &r});
  // Logging out goes last: should it end the caller's sessions, it ends no other route's walk.
  std::stable_partition(walk.begin(), walk.end(), [](const Served& s) { return route_key(*s.route) != "POST /api/auth/logout"; });

  Reporter report;
  std::size_t pairs = 0, requests = 0, walked = 0;
  for (const auto& [on_lims, route] : walk) {
    const kit::Route& r = *route;
    if (!r.guard.authenticated) {  // no credentials, no organization: see the list at the top
      ++skipped;
      continue;
    }
    ++walked;
    bool problems_reported = false;
    for (const auto& caller : callers) {
      const Context ctx{victim, own, caller};
      const Plan p = plan(r, ctx);
      if (!p.problems.empty() && !problems_reported) {
        problems_reported = true;
        for (const auto& problem : p.problems) ADD_FAILURE() << route_key(r) << ": the sweep cannot exercise it: " << problem;
      }
      const bool admitted = admits(r, caller);
      if (!admitted) {
        judge(report, r, caller, p.refused, false, call_route(on_lims, r, p.refused, caller.token));
        ++pairs;
        ++requests;
        continue;
      }
      for (const auto& c : p.calls) {
        judge(report, r, caller, c, true, call_route(on_lims, r, c, caller.token));
        ++requests;
      }
      if (!p.calls.empty()) ++pairs;
    }
  }
  report.summary();

  // B's rows, table by table, as they were; and nothing written to B's audit trail.
  ASSERT_TRUE(wait_for_audit_links(victim.org.id));
  const auto after = snapshot(victim.org.id);
  for (const auto& [table, sum] : before) {
    const auto now = after.find(table);
    if (now == after.end()) {
      ADD_FAILURE() << table << " is gone after the sweep";
      continue;
    }
    EXPECT_EQ(now->second, sum) << "the other organization's rows of " << table << " changed during the sweep";
  }
  EXPECT_EQ(after.size(), before.size());
  EXPECT_EQ(audit_events_of(victim.org.id), audit_before) << "requests of one organization wrote another's audit trail";

  std::cout << "[ sweep    ] " << walked << " routes walked (" << skipped << " without credentials skipped), " << callers.size()
            << " callers, " << pairs << " route x caller combinations exercised, " << requests << " requests, "
            << before.size() << " tables compared" << std::endl;
}
