#include "platform/common_routes.hpp"

#include <boost/json.hpp>

#include "auth/tokens.hpp"
#include "platform/app.hpp"
#include "platform/db/pool.hpp"

namespace asio = boost::asio;

namespace spectra {

std::vector<Route> common_routes(std::string service) {
  auto health = [service](RequestContext& ctx) -> asio::awaitable<http::Response> {
    bool db_ok = true;
    try {
      co_await ctx.db().ping();
    } catch (...) {
      db_ok = false;
    }
    boost::json::object body{{"status", db_ok ? "ok" : "degraded"},
                             {"service", service},
                             {"database", db_ok ? "ok" : "unavailable"},
                             {"version", ctx.app.version}};
    auto res = http::Response::json(db_ok ? 200 : 503, boost::json::serialize(body));
    res.header("Cache-Control", "no-store");
    co_return res;
  };
  auto openapi = [](RequestContext& ctx) -> asio::awaitable<http::Response> {
    co_return http::Response::json(200, ctx.router->openapi_json(ctx.app.version));
  };
  auto jwks = [](RequestContext& ctx) -> asio::awaitable<http::Response> {
    auto res = http::Response::json(200, ctx.app.tokens->jwks_json());
    res.header("Cache-Control", "public, max-age=300");
    co_return res;
  };
  using M = http::Method;
  return {
      {M::GET, "/health", health, auth::anyone, "Liveness and database reachability"},
      {M::GET, "/openapi.json", openapi, auth::anyone, "OpenAPI 3.1 document of this service"},
      {M::GET, "/.well-known/jwks.json", jwks, auth::anyone, "Public keys that verify access tokens (RS256)"},
  };
}

}  // namespace spectra
