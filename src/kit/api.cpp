#include "kit/api.hpp"
#include "platform/content_store.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

#include <exception>

#include "auth/authenticate.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::kit {
namespace {

bool is_json_content_type(std::string_view ct) {
  const auto semi = ct.find(';');
  auto base = ct.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  std::string lower(base);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json" || (lower.starts_with("application/") && lower.ends_with("+json"));
}

std::string allow_header(const std::vector<http::Method>& methods) {
  std::string out;
  for (auto m : methods) {
    if (!out.empty()) out += ", ";
    out += http::method_name(m);
  }
  return out;
}

// A query parameter the route does not declare is refused rather than silently ignored (a typo in a
// filter name must not answer every row).
void refuse_undeclared_query(const Route& route, const http::Request& req) {
  Problems problems;
  for (const auto& [name, value] : req.query) {
    bool known = false;
    for (const auto* fields : route.inputs.query)
      for (const auto& f : *fields) known = known || f.name == name;
    if (!known && !problems.has(name)) problems.add(name, "is not a parameter of this route");
  }
  problems.raise_if_any(ErrorCode::bad_request);
}

}  // namespace

Api::Api(Dependencies& deps, std::string name, Router router, BrowserOptions browser)
    : deps_(deps), name_(std::move(name)), router_(std::move(router)), browser_(std::move(browser)) {
  for (const auto& r : router_.routes())
    has_large_bodies_ = has_large_bodies_ || r.inputs.body == BodyKind::upload || r.inputs.body_limit > 0;
}

http::Handler Api::handler() {
  return http::Handler{name_, [this](http::Method m, std::string_view target) { return body_limit(m, target); },
                       [this](const http::Request& head) { return admit(head); },
                       [this](http::Request& req) { return handle(req); }};
}

asio::awaitable<auth::Principal> Api::check_guard(const Route& route, const http::Request& req, Caller& caller) {
  const auth::Verifiers verifiers{*deps_.pool, *deps_.tokens, deps_.external_keys};
  auto principal = co_await auth::authenticate(verifiers, req);
  caller.actor = principal.kind == auth::CredentialKind::api_key ? "key:" + principal.api_key_id : principal.user_id;
  caller.organization = principal.org_id;
  switch (auth::decide(principal, route.guard)) {
    case auth::Decision::allow: break;
    case auth::Decision::forbidden_role:
      throw forbidden("This action needs the " + std::string(auth::role_name(route.guard.min_role)) + " role or above");
    case auth::Decision::forbidden_scope:
      throw forbidden("This API key lacks the scope " + std::string(route.guard.scope));
    case auth::Decision::forbidden_api_key: throw forbidden("An API key cannot do this; sign in as a user");
  }
  co_return principal;
}

asio::awaitable<std::optional<http::Response>> Api::admit(const http::Request& head) {
  std::optional<ApiError> refusal;
  try {
    const auto target = std::string_view(head.target);
    auto m = router_.match(head.method, target.substr(0, target.find('?')));
    if (!m.route || (m.route->inputs.body != BodyKind::upload && m.route->inputs.body_limit == 0))
      throw not_found("No body this large is accepted here");
    if (!m.route->guard.authenticated) throw forbidden("Uploads need credentials");
    Caller caller;
    co_await check_guard(*m.route, head, caller);
  } catch (const ApiError& e) {
    refusal = e;
  } catch (const db::SqlError& e) {
    refusal = db::to_api_error(e);
  } catch (const std::exception& e) {
    refusal = ApiError(ErrorCode::internal, "Internal server error", e.what());
  }
  if (!refusal) co_return std::nullopt;
  co_return http::problem_response(*refusal, head.request_id);
}

std::size_t Api::body_limit(http::Method method, std::string_view target) const {
  if (!has_large_bodies_) return deps_.config.body_limit;  // no route to match
  const auto path = target.substr(0, target.find('?'));
  auto m = router_.match(method, path);
  if (m.route && m.route->inputs.body == BodyKind::upload) return deps_.config.upload_limit;
  if (m.route && m.route->inputs.body_limit > 0) return std::max(m.route->inputs.body_limit, deps_.config.body_limit);
  return deps_.config.body_limit;
}

asio::awaitable<http::Response> Api::handle(http::Request& req) {
  const auto origin = allowed_origin(req);
  if (origin && req.method == http::Method::OPTIONS && req.header("access-control-request-method"))
    co_return preflight(req, *origin);
  Caller caller;
  auto answer = co_await dispatch(req, caller);
  answer.actor = std::move(caller.actor);
  answer.organization = std::move(caller.organization);
  answer.route = std::move(caller.route);
  if (origin) {
    // Bearer tokens, not cookies: no Allow-Credentials. The headers a page may read are listed.
    answer.header("Access-Control-Allow-Origin", *origin);
    answer.header("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, ETag, Content-Disposition, Allow");
  }
  if (!browser_.cors_origins.empty()) answer.header("Vary", "Origin");
  if (!browser_.content_security_policy.empty()) {
    answer.header("Content-Security-Policy", browser_.content_security_policy);
    answer.header("X-Content-Type-Options", "nosniff");
    answer.header("Referrer-Policy", "no-referrer");
    answer.header("X-Frame-Options", "DENY");
  }
  co_return answer;
}

std::optional<std::string> Api::allowed_origin(const http::Request& req) const {
  const auto& allowed = browser_.cors_origins;
  if (allowed.empty()) return std::nullopt;
  const auto origin = req.header("origin");
  if (!origin || std::find(allowed.begin(), allowed.end(), *origin) == allowed.end())
    return std::nullopt;
  return std::string(*origin);
}

http::Response Api::preflight(const http::Request& req, const std::string& origin) const {
  const auto wanted = http::parse_method(*req.header("access-control-request-method"));
  const auto m = router_.match(wanted, req.path);
  if (!m.route) {  // the browser then refuses the request itself
    auto refused = http::problem_response(not_found("No resource at " + req.path + " for this method"), req.request_id);
    refused.header("Vary", "Origin");
    return refused;
  }
  auto ok = http::Response::no_content();
  ok.header("Access-Control-Allow-Origin", origin);
  ok.header("Access-Control-Allow-Methods", std::string(http::method_name(wanted)));
  ok.header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key, X-Request-Id, If-None-Match");
  ok.header("Access-Control-Max-Age", "600");
  ok.header("Vary", "Origin");
  return ok;
}

asio::awaitable<http::Response> Api::dispatch(http::Request& req, Caller& caller) {
  std::exception_ptr failure;
  try {
    auto m = router_.match(req.method, req.path);
    if (!m.route && m.allowed.empty() && browser_.site &&
        (req.method == http::Method::GET || req.method == http::Method::HEAD))
      if (auto file = browser_.site->answer(req.path, req.header("if-none-match"))) co_return std::move(*file);
    if (!m.route) {
      if (!m.allowed.empty())
        throw std::move(ApiError(ErrorCode::method_not_allowed,
                                 "Method " + std::string(http::method_name(req.method)) + " is not allowed on " + req.path)
                            .with_header("Allow", allow_header(m.allowed)));
      throw not_found("No resource at " + req.path);
    }
    const Route& route = *m.route;
    caller.route = route.path;
    req.path_params = std::move(m.params);
    RequestContext ctx{req, deps_, {}, &router_};
    if (route.guard.authenticated) ctx.principal = co_await check_guard(route, req, caller);
    if (route.inputs.body == BodyKind::json && !req.body.empty()) {
      auto ct = req.header("content-type");
      if (!ct || !is_json_content_type(*ct))
        throw ApiError(ErrorCode::unsupported_media, "The body must be application/json");
    }
    refuse_undeclared_query(route, req);
    co_return co_await route.handler(ctx);
  } catch (...) {
    failure = std::current_exception();
  }
  try {
    std::rethrow_exception(failure);
  } catch (const ApiError& e) {
    if (e.code() == ErrorCode::internal || e.code() == ErrorCode::unavailable)
      spdlog::warn("request {} failed: {} ({})", req.request_id, e.detail(), e.log_detail());
    co_return http::problem_response(e, req.request_id);
  } catch (const db::SqlError& e) {
    auto api = db::to_api_error(e);
    if (api.code() == ErrorCode::internal || api.code() == ErrorCode::unavailable)
      spdlog::error("request {} failed: {}", req.request_id, api.log_detail());
    else
      spdlog::debug("request {} refused by the database: {}", req.request_id, api.log_detail());
    co_return http::problem_response(api, req.request_id);
  } catch (const ContentStore::Full& e) {
    // Whoever was storing bytes (an upload, a certificate): refused whole, nothing recorded.
    spdlog::warn("request {} refused: {}", req.request_id, e.what());
    co_return http::problem_response(
        ApiError(ErrorCode::insufficient_storage, "The file store is full; nothing was stored", e.what()), req.request_id);
  } catch (const std::exception& e) {
    spdlog::error("request {} failed: {}", req.request_id, e.what());
    co_return http::problem_response(ApiError(ErrorCode::internal, "Internal server error"), req.request_id);
  } catch (...) {
    spdlog::error("request {} failed with an unknown exception", req.request_id);
    co_return http::problem_response(ApiError(ErrorCode::internal, "Internal server error"), req.request_id);
  }
}

}  // namespace spectra::kit
