#pragma once
// One HTTP API (LIMS or Analysis): its route table behind authentication, guards, declared inputs and
// error mapping. The HTTP server sees it only as an http::Handler.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"
#include "platform/http/handler.hpp"
#include "platform/http/static_site.hpp"

namespace spectra::kit {

// What a service offers browsers beyond its routes.
struct BrowserOptions {
  // Origins whose cross-origin requests are answered (CORS): the Analysis API, for the web app.
  std::vector<std::string> cors_origins;
  // The web app's files, answered for GET paths no route takes: the LIMS API.
  std::shared_ptr<const http::StaticSite> site;
  // When set, every answer carries it with X-Content-Type-Options, Referrer-Policy and X-Frame-Options.
  std::string content_security_policy;
};

class Api {
 public:
  Api(Dependencies& deps, std::string name, Router router, BrowserOptions browser = {});
  // Route → authenticate → guard → content type → declared inputs → handler; every failure becomes
  // problem+json. Never throws.
  boost::asio::awaitable<http::Response> handle(http::Request& req);
  // The body limit of the route a request names: UPLOAD_LIMIT for uploads, BODY_LIMIT otherwise.
  std::size_t body_limit(http::Method method, std::string_view target) const;
  // Whether the head of an upload may have its body read: authenticated and allowed by the guard.
  boost::asio::awaitable<std::optional<http::Response>> admit(const http::Request& head);
  const std::string& name() const noexcept { return name_; }
  const Router& router() const noexcept { return router_; }
  // What the HTTP server calls.
  http::Handler handler();

 private:
  // Who asked and which route took it, for the access log and metrics.
  struct Caller {
    std::string actor, organization, route;
  };
  boost::asio::awaitable<http::Response> dispatch(http::Request& req, Caller& caller);
  // The request's Origin when it is one of cors_origins_.
  std::optional<std::string> allowed_origin(const http::Request& req) const;
  // The answer to a CORS preflight (OPTIONS with Access-Control-Request-Method) from an allowed origin.
  http::Response preflight(const http::Request& req, const std::string& origin) const;
  // Authenticates the caller (naming it in actor, for the access log) and applies the route's guard;
  // throws ApiError.
  boost::asio::awaitable<auth::Principal> check_guard(const Route& route, const http::Request& req, Caller& caller);
  Dependencies& deps_;
  std::string name_;
  Router router_;
  bool has_large_bodies_ = false;  // an upload, or a body past BODY_LIMIT
  BrowserOptions browser_;
};

}  // namespace spectra::kit
