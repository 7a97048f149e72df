#include "kit/route.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "auth/tokens.hpp"
#include "kit/docs.hpp"
#include "platform/blocking.hpp"
#include "platform/content_store.hpp"
#include "platform/crypto.hpp"
#include "platform/db/migrations.hpp"
#include "platform/db/pool.hpp"
#include "platform/metrics.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::kit {
namespace detail {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace detail

namespace {

bool is_param(std::string_view s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

json::object object_schema(const std::vector<FieldSpec>& fields);

json::object schema_of(const FieldSpec& f) {
  json::object s;
  auto nullable = [&](const char* type) -> json::value {
    if (!f.nullable) return json::string(type);
    return json::array{type, "null"};
  };
  switch (f.kind) {
    case Kind::string:
    case Kind::uuid:
    case Kind::timestamp:
      s["type"] = nullable("string");
      if (f.kind == Kind::uuid) s["format"] = "uuid";
      if (f.kind == Kind::timestamp) s["format"] = "date-time";
      if (!f.format.empty()) s["format"] = f.format;
      if (f.kind == Kind::string) s["maxLength"] = f.max_length;
      if (f.not_blank) s["minLength"] = 1;
      if (!f.pattern.empty()) s["pattern"] = f.pattern;
      if (!f.one_of.empty()) {
        json::array e(f.one_of.begin(), f.one_of.end());
        s["enum"] = std::move(e);
      }
      break;
    case Kind::integer:
    case Kind::number:
      s["type"] = nullable(f.kind == Kind::integer ? "integer" : "number");
      if (f.minimum) s["minimum"] = *f.minimum;
      if (f.maximum) s["maximum"] = *f.maximum;
      break;
    case Kind::boolean: s["type"] = nullable("boolean"); break;
    case Kind::object:
      if (f.fields) return object_schema(*f.fields);
      s["type"] = nullable("object");
      break;
    case Kind::object_list:
      s["type"] = nullable("array");
      s["items"] = f.fields ? object_schema(*f.fields) : json::object{{"type", "object"}};
      s["maxItems"] = f.max_length;
      break;
    case Kind::string_list: {
      s["type"] = nullable("array");
      json::object items{{"type", "string"}, {"minLength", 1}};
      if (!f.one_of.empty()) items["enum"] = json::array(f.one_of.begin(), f.one_of.end());
      s["items"] = std::move(items);
      s["maxItems"] = f.max_length;
      if (f.minimum) s["minItems"] = *f.minimum;
      break;
    }
  }
  if (!f.description.empty()) s["description"] = f.description;
  return s;
}

json::object object_schema(const std::vector<FieldSpec>& fields) {
  json::object props;
  json::array required;
  for (const auto& f : fields) {
    props[f.name] = schema_of(f);
    if (f.required) required.push_back(json::string(f.name));
  }
  json::object s{{"type", "object"}, {"properties", std::move(props)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

}  // namespace

Input<Nothing> Nothing::input() { return {"Nothing", {}}; }

Input<Id> Id::input() { return {"Id", {field("id", &Id::id).uuid()}}; }

Input<PageRequest> PageRequest::input() {
  return {"PageRequest",
          {field("limit", &PageRequest::limit).or_default().min(1).max(500).describe("Items per page (default 50)"),
           field("cursor", &PageRequest::cursor).max_length(2000).describe("next_cursor of the previous page"),
           field("sort", &PageRequest::sort)
               .max_length(64)
               .pattern("-?[a-z_]+")
               .describe("A sort key of this list; a leading - sorts descending")}};
}

Router::Router(std::string title, std::vector<Route> routes)
    : title_(std::move(title)), routes_(std::move(routes)), openapi_(std::make_shared<Document>()) {
  for (const auto& r : routes_) {
    const std::string where = std::string(http::method_name(r.method)) + " " + r.path;
    if (!r.declared) throw std::logic_error(where + " was not built by kit::route()");
    if (r.summary.empty()) throw std::logic_error(where + " has no summary");
    if (r.guard.authenticated && r.guard.api_keys && r.guard.scope.empty())
      throw std::logic_error(where + " admits API keys but declares no scope (auth::any_scope opens it to every key)");
    Compiled c;
    std::set<std::string> in_path;
    for (auto s : detail::split_path(r.path)) {
      c.segments.emplace_back(s);
      if (is_param(s)) in_path.emplace(s.substr(1, s.size() - 2));
      else ++c.literals;
    }
    std::set<std::string> declared;
    if (r.inputs.path)
      for (const auto& f : *r.inputs.path) declared.insert(f.name);
    if (in_path != declared) throw std::logic_error(where + ": its path parameters and its Path<> declaration differ");
    std::set<std::string> query_names;
    for (const auto* q : r.inputs.query)
      for (const auto& f : *q)
        if (!query_names.insert(f.name).second) throw std::logic_error(where + " declares query parameter " + f.name + " twice");
    compiled_.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < routes_.size(); ++i)
    for (std::size_t j = i + 1; j < routes_.size(); ++j)
      if (routes_[i].method == routes_[j].method && routes_[i].path == routes_[j].path)
        throw std::logic_error("duplicate route " + routes_[i].path);
}

Router::Match Router::match(http::Method method, std::string_view path) const {
  const auto segs = detail::split_path(path);
  Match best;
  int best_literals = -1;
  int best_path_literals = -1;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& c = compiled_[i];
    if (c.segments.size() != segs.size()) continue;
    bool ok = true;
    for (std::size_t k = 0; k < segs.size() && ok; ++k)
      if (!is_param(c.segments[k]) && c.segments[k] != segs[k]) ok = false;
    if (!ok) continue;
    // The most specific path (most literal segments) wins.
    if (c.literals > best_path_literals) {
      best_path_literals = c.literals;
      best.allowed.clear();
      best.route = nullptr;
      best_literals = -1;
    } else if (c.literals < best_path_literals) {
      continue;
    }
    if (routes_[i].method == method || (method == http::Method::HEAD && routes_[i].method == http::Method::GET)) {
      if (c.literals > best_literals) {
        best_literals = c.literals;
        best.route = &routes_[i];
        best.params.clear();
        for (std::size_t k = 0; k < segs.size(); ++k)
          if (is_param(c.segments[k]))
            best.params.emplace_back(c.segments[k].substr(1, c.segments[k].size() - 2), std::string(segs[k]));
      }
    }
    best.allowed.push_back(routes_[i].method);
  }
  if (best.route) best.allowed.clear();
  return best;
}

struct Router::Document {
  std::once_flag once;
  std::string json;
};

const std::string& Router::openapi_json(std::string_view version) const {
  std::call_once(openapi_->once, [&] { openapi_->json = build_openapi(version); });
  return openapi_->json;
}

std::string Router::build_openapi(std::string_view version) const {
  json::object paths;
  json::object problem_fields{{"type", json::object{{"type", "string"}}},
                              {"title", json::object{{"type", "string"}}},
                              {"status", json::object{{"type", "integer"}}},
                              {"detail", json::object{{"type", "string"}}},
                              {"request_id", json::object{{"type", "string"}}}};
  json::object field_error{{"type", "object"},
                           {"properties", json::object{{"field", json::object{{"type", "string"}}},
                                                       {"message", json::object{{"type", "string"}}}}}};
  problem_fields["errors"] = json::object{{"type", "array"}, {"items", std::move(field_error)}};
  json::object schemas;
  schemas["Problem"] = json::object{{"type", "object"},
                                    {"required", json::array{"type", "title", "status", "detail"}},
                                    {"properties", std::move(problem_fields)}};
  // Keep the table's order, grouped by path.
  std::vector<std::string> order;
  std::map<std::string, json::object> by_path;
  for (const auto& r : routes_) {
    if (!by_path.contains(r.path)) order.push_back(r.path);
    json::object op;
    op["summary"] = r.summary;
    std::string opid = std::string(http::method_name(r.method));
    for (char ch : r.path) opid += (std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
    op["operationId"] = opid;
    json::array params;
    if (r.inputs.path)
      for (const auto& f : *r.inputs.path)
        params.push_back(json::object{{"name", f.name}, {"in", "path"}, {"required", true}, {"schema", schema_of(f)}});
    for (const auto* q : r.inputs.query)
      for (const auto& f : *q) {
        json::object p{{"name", f.name}, {"in", "query"}, {"required", f.required}, {"schema", schema_of(f)}};
        if (f.kind == Kind::string_list) {
          p["style"] = "form";
          p["explode"] = false;
        }
        params.push_back(std::move(p));
      }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (r.guard.authenticated) {
      json::array sec;
      sec.push_back(json::object{{"bearer", json::array{}}});
      if (r.guard.api_keys) sec.push_back(json::object{{"apiKey", json::array{}}});
      op["security"] = std::move(sec);
      op["x-minimum-role"] = auth::role_name(r.guard.min_role);
      if (!r.guard.scope.empty() && r.guard.scope != auth::any_scope) op["x-api-key-scope"] = r.guard.scope;
      if (!r.guard.api_keys) op["x-api-keys-allowed"] = false;
    } else {
      op["security"] = json::array{};
    }
    if (r.inputs.body == BodyKind::json) {
      if (!schemas.contains(r.inputs.body_name)) schemas[r.inputs.body_name] = object_schema(*r.inputs.body_fields);
      op["requestBody"] = json::object{
          {"required", !r.inputs.body_optional},
          {"content", json::object{{"application/json",
                                    json::object{{"schema", json::object{{"$ref", "#/components/schemas/" + r.inputs.body_name}}}}}}}};
    } else if (r.inputs.body == BodyKind::upload) {
      op["requestBody"] = json::object{
          {"required", true},
          {"content", json::object{{"*/*", json::object{{"schema", json::object{{"type", "string"}, {"format", "binary"}}}}}}}};
    }
    json::object responses;
    responses[std::to_string(r.success_status)] =
        json::object{{"description", r.success_status == 204 ? "Done; no content" : "Success"}};
    const json::object problem{
        {"content", json::object{{"application/problem+json",
                                  json::object{{"schema", json::object{{"$ref", "#/components/schemas/Problem"}}}}}}}};
    auto add_problem = [&](const char* code, const char* desc) {
      json::object o = problem;
      o["description"] = desc;
      responses[code] = std::move(o);
    };
    add_problem("400", "Malformed request, or a query parameter the route does not declare");
    if (r.guard.authenticated) {
      add_problem("401", "Missing or invalid credentials");
      add_problem("403", "Role or scope does not allow it");
    }
    if (r.inputs.path) add_problem("404", "Not found");
    if (r.inputs.body != BodyKind::none) {
      add_problem("415", "Wrong content type");
      add_problem("422", "Invalid values");
    }
    add_problem("503", "Database unavailable");
    op["responses"] = std::move(responses);
    std::string m(http::method_name(r.method));
    for (auto& ch : m) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    by_path[r.path][m] = std::move(op);
  }
  for (const auto& p : order) paths[p] = std::move(by_path[p]);

  json::object doc{
      {"openapi", "3.1.0"},
      {"info", json::object{{"title", title_},
                            {"version", version},
                            {"description", "Errors are RFC 9457 problem+json; lists are keyset-paginated."},
                            {"license", json::object{{"name", "Proprietary"}, {"identifier", "LicenseRef-Proprietary"}}}}},
      {"servers", json::array{json::object{{"url", "/"}}}},
      {"paths", std::move(paths)},
      {"components",
       json::object{
           {"securitySchemes",
            json::object{{"bearer", json::object{{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}},
                         {"apiKey", json::object{{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}}}},
           {"schemas", std::move(schemas)}}}};
  return json::serialize(doc);
}

namespace {

// service is a literal: a coroutine must not keep a reference to a temporary.
Reply health(RequestContext& ctx, std::string_view service) {
  bool db_ok = true;
  try {
    co_await ctx.db().ping();
  } catch (...) {
    db_ok = false;
  }
  json::object body{{"status", db_ok ? "ok" : "degraded"},
                    {"service", service},
                    {"database", db_ok ? "ok" : "unavailable"},
                    {"version", ctx.deps.version}};
  if (const auto* seq = ctx.deps.audit_sequencer) {
    // This process's sequencer: the leader links; a standby knows no lag of its own.
    const auto st = seq->status();
    body["audit"] = json::object{{"sequencer", st.leader ? "leader" : "standby"},
                                 {"pending", st.pending},
                                 {"lag_ms", st.lag_ms}};
  }
  auto res = http::Response::json(db_ok ? 200 : 503, json::serialize(body));
  res.header("Cache-Control", "no-store");
  co_return res;
}
Reply lims_health(RequestContext& ctx) { return health(ctx, "lims"); }
Reply analysis_health(RequestContext& ctx) { return health(ctx, "analysis"); }

Reply live(RequestContext&) {
  auto res = http::Response::json(200, R"({"status":"ok"})");
  res.header("Cache-Control", "no-store");
  co_return res;
}

// What requests need, tried the way they use it: a transaction under a tenant context (app.begin_request,
// PL/pgSQL) reading the schema's version and a tenant table under row-level security, the content store
// written to, and the audit sequencer linking (it measures its lag, leader or standby).
const db::Query ready_schema{"platform_ready_schema",
                             "SELECT coalesce(max(version), 0) FROM spectra_schema_migrations WHERE $1::uuid IS NOT NULL"};
const db::Query ready_tenant{"platform_ready_tenant", "SELECT count(*) FROM (SELECT 1 FROM samples WHERE organization_id = $1 LIMIT 1) s"};
constexpr std::int64_t kMaxSequencerLagMs = 10000;

Reply ready(RequestContext& ctx) {
  json::object checks;
  bool ok = true;
  const auto fail = [&](const char* check, std::string why) {
    checks[check] = why;
    ok = false;
  };
  const int head = db::embedded_migrations().empty() ? 0 : db::embedded_migrations().back().version;
  try {
    const db::TenantContext nobody{"00000000-0000-0000-0000-000000000000", "", "viewer"};
    auto both = [](db::Tx& tx) -> asio::awaitable<std::vector<db::Result>> {
      std::vector<db::Statement> statements{db::Statement{&ready_schema, {}}, db::Statement{&ready_tenant, {}}};
      co_return co_await tx.commit(std::move(statements));
    };
    const auto results = co_await db::transact(ctx.db(), nobody, db::Mode::read_only, both);
    checks["database"] = "ok";
    const auto version = results.at(0).get_int(0, 0);
    if (version == head)
      checks["migrations"] = "ok";
    else
      fail("migrations", "at " + std::to_string(version) + ", head is " + std::to_string(head));
  } catch (const std::exception& e) {
    // Anyone may ask: the answer names the check, the log holds the detail (hosts, paths).
    spdlog::warn("readiness: the database failed: {}", e.what());
    fail("database", "unavailable");
    fail("migrations", "unknown: the database did not answer");
  }
  try {
    auto probe = [files = ctx.deps.files] {
      files->probe();
      return true;
    };
    const WorkShare share{"health", "health"};
    co_await ctx.deps.blocking->run(probe, share);
    checks["content_store"] = "ok";
  } catch (const std::exception& e) {
    spdlog::warn("readiness: the content store failed: {}", e.what());
    fail("content_store", "not writable");
  }
  if (const auto* seq = ctx.deps.audit_sequencer) {
    const auto st = seq->status();
    if (st.measured_ms_ago < 0 || st.measured_ms_ago > kMaxSequencerLagMs)
      fail("audit_sequencer", "not answering: its database connection is down");
    else if (st.lag_ms > kMaxSequencerLagMs)
      fail("audit_sequencer", "lagging " + std::to_string(st.lag_ms / 1000) + " s behind (" + std::to_string(st.pending) +
                                  " events pending)");
    else
      checks["audit_sequencer"] = "ok";
  }
  json::object body{{"status", ok ? "ready" : "unavailable"}, {"checks", std::move(checks)}};
  auto res = http::Response::json(ok ? 200 : 503, json::serialize(body));
  res.header("Cache-Control", "no-store");
  if (!ok) res.header("Retry-After", "5");
  co_return res;
}

// Prometheus's text, to a bearer of METRICS_TOKEN; without a token set, to anyone when `open` (the
// metrics port), else to no one (the API ports: 404).
Reply serve_metrics(RequestContext& ctx, bool open) {
  const auto& token = ctx.deps.config.metrics_token;
  if (!ctx.deps.metrics || (token.empty() && !open)) throw not_found("No resource at /metrics");
  if (!token.empty()) {
    const auto given = ctx.req.header("authorization");
    if (!given || !crypto::constant_time_equal(*given, "Bearer " + token))
      throw std::move(unauthorized("Metrics need the bearer token METRICS_TOKEN").with_header("WWW-Authenticate", "Bearer"));
  }
  http::Response res;
  res.content_type = std::string(metrics::content_type);
  res.body = ctx.deps.metrics->text();
  res.header("Cache-Control", "no-store");
  co_return res;
}
Reply metrics_on_api_port(RequestContext& ctx) { return serve_metrics(ctx, false); }
Reply metrics_on_own_port(RequestContext& ctx) { return serve_metrics(ctx, true); }

Reply openapi(RequestContext& ctx) { co_return http::Response::json(200, ctx.router->openapi_json(ctx.deps.version)); }

Reply docs(RequestContext& ctx) {
  http::Response page;
  page.content_type = "text/html; charset=utf-8";
  page.body = openapi_html(ctx.router->openapi_json(ctx.deps.version));
  co_return page;
}

Reply jwks(RequestContext& ctx) {
  auto res = http::Response::json(200, ctx.deps.tokens->jwks_json());
  res.header("Cache-Control", "public, max-age=300");
  co_return res;
}

}  // namespace

std::vector<Route> common_routes(std::string service) {
  using M = http::Method;
  return {
      route(M::GET, "/health", service == "lims" ? lims_health : analysis_health, auth::anyone,
            "Liveness and database reachability"),
      route(M::GET, "/health/live", live, auth::anyone, "200 while the process serves"),
      route(M::GET, "/health/ready", ready, auth::anyone,
            "200 when the database answers requests' statements, migrations are at head, the content store is "
            "writable and the audit sequencer lags under 10 s; else 503 naming what failed"),
      route(M::GET, "/metrics", metrics_on_api_port, auth::anyone,
            "Prometheus metrics, to a bearer of METRICS_TOKEN (404 when it is not set)"),
      route(M::GET, "/openapi.json", openapi, auth::anyone, "OpenAPI 3.1 document of this service"),
      route(M::GET, "/docs", docs, auth::anyone, "This service's OpenAPI document rendered for people (HTML)"),
      route(M::GET, "/.well-known/jwks.json", jwks, auth::anyone, "Public keys that verify access tokens (RS256)"),
  };
}

std::vector<Route> metrics_routes() {
  return {route(http::Method::GET, "/metrics", metrics_on_own_port, auth::anyone,
                "Prometheus metrics (to a bearer of METRICS_TOKEN when it is set)")};
}

}  // namespace spectra::kit
