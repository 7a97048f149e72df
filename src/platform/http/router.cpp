#include "platform/http/router.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <stdexcept>

namespace spectra {
namespace {

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

bool is_param(std::string_view s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

}  // namespace

Router::Router(std::string title, std::vector<Route> routes) : title_(std::move(title)), routes_(std::move(routes)) {
  for (const auto& r : routes_) {
    Compiled c;
    for (auto s : split_path(r.path)) {
      c.segments.emplace_back(s);
      if (!is_param(s)) ++c.literals;
    }
    compiled_.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < routes_.size(); ++i)
    for (std::size_t j = i + 1; j < routes_.size(); ++j)
      if (routes_[i].method == routes_[j].method && routes_[i].path == routes_[j].path)
        throw std::logic_error("duplicate route " + std::string(routes_[i].path));
}

Router::Match Router::match(http::Method method, std::string_view path) const {
  const auto segs = split_path(path);
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

std::string Router::openapi_json(std::string_view version) const {
  namespace json = boost::json;
  json::object paths;
  // Keep the table's order, grouped by path.
  std::vector<std::string> order;
  std::map<std::string, json::object> by_path;
  for (const auto& r : routes_) {
    std::string p(r.path);
    if (!by_path.contains(p)) order.push_back(p);
    json::object op;
    op["summary"] = r.summary;
    std::string opid = std::string(http::method_name(r.method));
    for (char ch : r.path) opid += (std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
    op["operationId"] = opid;
    json::array params;
    for (auto s : split_path(r.path)) {
      if (!is_param(s)) continue;
      params.push_back(json::object{{"name", s.substr(1, s.size() - 2)},
                                    {"in", "path"},
                                    {"required", true},
                                    {"schema", json::object{{"type", "string"}}}});
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (r.guard.authenticated) {
      json::array sec;
      sec.push_back(json::object{{"bearer", json::array{}}});
      if (r.guard.api_keys) sec.push_back(json::object{{"apiKey", json::array{}}});
      op["security"] = std::move(sec);
      op["x-minimum-role"] = auth::role_name(r.guard.min_role);
      if (!r.guard.scope.empty()) op["x-api-key-scope"] = r.guard.scope;
      if (!r.guard.api_keys) op["x-api-keys-allowed"] = false;
    } else {
      op["security"] = json::array{};
    }
    if (r.body == Body::json)
      op["requestBody"] = json::object{
          {"required", r.method == http::Method::POST},
          {"content", json::object{{"application/json", json::object{{"schema", json::object{{"type", "object"}}}}}}}};
    else if (r.body == Body::upload)
      op["requestBody"] = json::object{
          {"required", true},
          {"content", json::object{{"*/*", json::object{{"schema", json::object{{"type", "string"}, {"format", "binary"}}}}}}}};
    json::object responses;
    responses[std::to_string(r.success_status)] = json::object{{"description", "Success"}};
    const json::object problem{
        {"content", json::object{{"application/problem+json",
                                  json::object{{"schema", json::object{{"$ref", "#/components/schemas/Problem"}}}}}}}};
    auto add_problem = [&](const char* code, const char* desc) {
      json::object o = problem;
      o["description"] = desc;
      responses[code] = std::move(o);
    };
    if (r.body != Body::none) add_problem("400", "Malformed request");
    if (r.guard.authenticated) {
      add_problem("401", "Missing or invalid credentials");
      add_problem("403", "Role or scope does not allow it");
    }
    if (r.path.find('{') != std::string_view::npos) add_problem("404", "Not found");
    if (r.body != Body::none) {
      add_problem("415", "Wrong content type");
      add_problem("422", "Invalid values");
    }
    add_problem("503", "Database unavailable");
    op["responses"] = std::move(responses);
    std::string m(http::method_name(r.method));
    for (auto& ch : m) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    by_path[p][m] = std::move(op);
  }
  for (const auto& p : order) paths[p] = std::move(by_path[p]);

  json::object doc{
      {"openapi", "3.1.0"},
      {"info", json::object{{"title", title_}, {"version", version}}},
      {"paths", std::move(paths)},
      {"components",
       json::object{
           {"securitySchemes",
            json::object{{"bearer", json::object{{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}},
                         {"apiKey", json::object{{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}}}},
           {"schemas",
            json::object{{"Problem",
                          json::object{{"type", "object"},
                                       {"required", json::array{"type", "title", "status", "detail"}},
                                       {"properties",
                                        json::object{{"type", json::object{{"type", "string"}}},
                                                     {"title", json::object{{"type", "string"}}},
                                                     {"status", json::object{{"type", "integer"}}},
                                                     {"detail", json::object{{"type", "string"}}},
                                                     {"request_id", json::object{{"type", "string"}}},
                                                     {"errors", json::object{{"type", "array"}}}}}}}}}}}};
  return json::serialize(doc);
}

}  // namespace spectra
