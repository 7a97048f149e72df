#include "platform/service.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <exception>

#include "auth/authenticate.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra {
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

}  // namespace

http::Response problem_response(const ApiError& e, const std::string& request_id) {
  namespace json = boost::json;
  const unsigned status = http_status(e.code());
  json::object body{{"type", "about:blank"},
                    {"title", status_title(status)},
                    {"status", status},
                    {"detail", e.detail()},
                    {"request_id", request_id}};
  if (!e.field_errors().empty()) {
    json::array errs;
    for (const auto& f : e.field_errors()) errs.push_back(json::object{{"field", f.field}, {"message", f.message}});
    body["errors"] = std::move(errs);
  }
  auto res = http::Response::json(status, json::serialize(body));
  res.content_type = "application/problem+json";
  for (const auto& h : e.headers()) res.headers.push_back(h);
  return res;
}

Service::Service(App& app, std::string name, Router router)
    : app_(app), name_(std::move(name)), router_(std::move(router)) {}

asio::awaitable<http::Response> Service::handle(http::Request& req) {
  std::string actor;
  auto answer = co_await dispatch(req, actor);
  answer.actor = std::move(actor);
  co_return answer;
}

asio::awaitable<http::Response> Service::dispatch(http::Request& req, std::string& actor) {
  std::exception_ptr failure;
  try {
    auto m = router_.match(req.method, req.path);
    if (!m.route) {
      if (!m.allowed.empty())
        throw std::move(ApiError(ErrorCode::method_not_allowed,
                                 "Method " + std::string(http::method_name(req.method)) + " is not allowed on " + req.path)
                            .with_header("Allow", allow_header(m.allowed)));
      throw not_found("No resource at " + req.path);
    }
    const Route& route = *m.route;
    req.path_params = std::move(m.params);
    RequestContext ctx{req, app_, {}, &router_};
    if (route.guard.authenticated) {
      ctx.principal = co_await auth::authenticate(app_, req);
      actor = ctx.principal.kind == auth::CredentialKind::api_key ? "key:" + ctx.principal.api_key_id
                                                                  : ctx.principal.user_id;
      switch (auth::decide(ctx.principal, route.guard)) {
        case auth::Decision::allow: break;
        case auth::Decision::forbidden_role:
          throw forbidden("This action needs the " + std::string(auth::role_name(route.guard.min_role)) +
                          " role or above");
        case auth::Decision::forbidden_scope:
          throw forbidden("This API key lacks the scope " + std::string(route.guard.scope));
        case auth::Decision::forbidden_api_key: throw forbidden("An API key cannot do this; sign in as a user");
      }
    }
    if (route.body == Body::json && !req.body.empty()) {
      auto ct = req.header("content-type");
      if (!ct || !is_json_content_type(*ct))
        throw ApiError(ErrorCode::unsupported_media, "The body must be application/json");
    }
    co_return co_await route.handler(ctx);
  } catch (...) {
    failure = std::current_exception();
  }
  try {
    std::rethrow_exception(failure);
  } catch (const ApiError& e) {
    if (e.code() == ErrorCode::internal || e.code() == ErrorCode::unavailable)
      spdlog::warn("request {} failed: {} ({})", req.request_id, e.detail(), e.log_detail());
    co_return problem_response(e, req.request_id);
  } catch (const db::SqlError& e) {
    auto api = db::to_api_error(e);
    if (api.code() == ErrorCode::internal || api.code() == ErrorCode::unavailable)
      spdlog::error("request {} failed: {}", req.request_id, api.log_detail());
    co_return problem_response(api, req.request_id);
  } catch (const std::exception& e) {
    spdlog::error("request {} failed: {}", req.request_id, e.what());
    co_return problem_response(ApiError(ErrorCode::internal, "Internal server error"), req.request_id);
  } catch (...) {
    spdlog::error("request {} failed with an unknown exception", req.request_id);
    co_return problem_response(ApiError(ErrorCode::internal, "Internal server error"), req.request_id);
  }
}

}  // namespace spectra
