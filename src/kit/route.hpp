#pragma once
// One route table per service: method + path → handler, guard (minimum role, key scope), summary and
// declared inputs. A handler names its inputs in its signature, and route() reads them from there:
//
//   Reply get_user(RequestContext& ctx, Path<Id> p);
//   Reply update_user(RequestContext& ctx, Path<Id> p, Body<UserChange> change);
//   Reply list_users(RequestContext& ctx, QueryString<UserFilters> q, PageRequest page);
//
// Path<T>, QueryString<T> and Body<T> are T itself (so `change.role` reads a field), decoded and
// validated from T's declaration before the handler runs; the OpenAPI document comes from the same
// declarations, so it cannot drift from what the route accepts.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "auth/rbac.hpp"
#include "kit/context.hpp"
#include "kit/input.hpp"
#include "platform/http/message.hpp"

namespace spectra::kit {

using Reply = boost::asio::awaitable<http::Response>;
using Handler = std::function<Reply(RequestContext&)>;

enum class BodyKind { none, json, upload };

// What a route takes, for validation of its query string and for its OpenAPI document.
struct RouteInputs {
  BodyKind body = BodyKind::none;
  bool body_optional = false;  // an action that takes an empty body or {}
  std::string body_name;
  const std::vector<FieldSpec>* body_fields = nullptr;
  std::vector<const std::vector<FieldSpec>*> query;  // every declared query parameter
  const std::vector<FieldSpec>* path = nullptr;
  // A JSON body allowed past BODY_LIMIT (0: the default): a body type that declares
  // `static constexpr std::size_t max_body_bytes` (a notebook entry's markdown) names its own ceiling.
  std::size_t body_limit = 0;
};

struct Route {
  http::Method method;
  std::string path;  // "/api/samples/{id}"
  Handler handler;
  auth::Guard guard;
  std::string summary;
  unsigned success_status = 200;
  RouteInputs inputs;
  bool declared = false;  // built by route(): its inputs come from its handler's signature
};

// ---- Extractors: the handler parameters route() knows how to fill ----

template <class T>
struct Path : T {};
template <class T>
struct QueryString : T {};
template <class T>
struct Body : T {};
// A body that may be empty (actions that take nothing or {}).
template <class T>
struct OptionalBody : T {};
// An upload: the raw bytes (BodyKind::upload lifts the size limit to UPLOAD_LIMIT).
struct Upload {
  std::string_view bytes;
  std::string_view content_type;
};

// limit (1..500, default 50), cursor (opaque, from the previous page) and sort (a list's sort key,
// "-" for descending); checked against the list itself by List::page.
struct PageRequest {
  int limit = 50;
  std::optional<std::string> cursor;
  std::optional<std::string> sort;
  static Input<PageRequest> input();
};

// The body of an action that takes nothing (submit, acknowledge): empty or {}; any field is 422.
struct Nothing {
  static Input<Nothing> input();
};

// The path of a single resource: /things/{id}.
struct Id {
  std::string id;
  static Input<Id> input();
};

namespace detail {
// A path's segments, as the router and its checks see them.
std::vector<std::string_view> split_path(std::string_view path);

template <class A>
struct Extract;
template <class T>
struct Extract<Path<T>> {
  static Path<T> from(RequestContext& ctx) { return Path<T>{input_of<T>().from_text(ctx.req.path_params, ErrorCode::bad_request)}; }
  static void declare(RouteInputs& in) { in.path = &input_of<T>().specs(); }
};
template <class T>
struct Extract<QueryString<T>> {
  static QueryString<T> from(RequestContext& ctx) {
    return QueryString<T>{input_of<T>().from_text(ctx.req.query, ErrorCode::bad_request)};
  }
  static void declare(RouteInputs& in) { in.query.push_back(&input_of<T>().specs()); }
};
template <>
struct Extract<PageRequest> {
  static PageRequest from(RequestContext& ctx) { return input_of<PageRequest>().from_text(ctx.req.query, ErrorCode::bad_request); }
  static void declare(RouteInputs& in) { in.query.push_back(&input_of<PageRequest>().specs()); }
};
template <class T>
struct Extract<Body<T>> {
  static Body<T> from(RequestContext& ctx) { return Body<T>{input_of<T>().from_json(ctx.req.body)}; }
  static void declare(RouteInputs& in) {
    in.body = BodyKind::json;
    in.body_name = input_of<T>().name();
    in.body_fields = &input_of<T>().specs();
    if constexpr (requires { T::max_body_bytes; }) in.body_limit = T::max_body_bytes;
  }
};
template <class T>
struct Extract<OptionalBody<T>> {
  static OptionalBody<T> from(RequestContext& ctx) { return OptionalBody<T>{input_of<T>().from_json(ctx.req.body, true)}; }
  static void declare(RouteInputs& in) {
    Extract<Body<T>>::declare(in);
    in.body_optional = true;
  }
};
template <>
struct Extract<Upload> {
  static Upload from(RequestContext& ctx) {
    auto ct = ctx.req.header("content-type");
    return Upload{ctx.req.body, ct ? *ct : std::string_view()};
  }
  static void declare(RouteInputs& in) { in.body = BodyKind::upload; }
};
}  // namespace detail

// A route row: its inputs are read from the handler's parameters after the RequestContext.
template <class... A>
Route route(http::Method method, std::string path, Reply (*handler)(RequestContext&, A...), auth::Guard guard,
            std::string summary, unsigned success_status = 200) {
  Route r{method, std::move(path), {}, guard, std::move(summary), success_status, {}, true};
  (detail::Extract<std::decay_t<A>>::declare(r.inputs), ...);
  // The extractors run before the handler, which only ever sees valid, typed values.
  r.handler = [handler](RequestContext& ctx) -> Reply { return handler(ctx, detail::Extract<std::decay_t<A>>::from(ctx)...); };
  return r;
}

class Router {
 public:
  // Refuses (std::logic_error) a table with a duplicate route, a route not built by route(), a path
  // parameter without a declaration (or the reverse), or a guard that admits API keys without a scope.
  Router(std::string title, std::vector<Route> routes);

  struct Match {
    const Route* route = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
    std::vector<http::Method> allowed;  // when the path exists but not with this method
  };
  Match match(http::Method method, std::string_view path) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }
  // OpenAPI 3.1 document of this route table, with every declared input's schema; built once.
  const std::string& openapi_json(std::string_view version) const;

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{name}" marks a parameter
    int literals = 0;
  };
  std::string build_openapi(std::string_view version) const;
  std::string title_;
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
  struct Document;
  std::shared_ptr<Document> openapi_;  // the table never changes: its document is built once
};

// The routes every service has: health, its OpenAPI document, the JWKS.
std::vector<Route> common_routes(std::string service);
// METRICS_PORT's one route: GET /metrics, to a bearer of METRICS_TOKEN when it is set, else to anyone
// (the port is bound where only the scraper reaches it).
std::vector<Route> metrics_routes();

}  // namespace spectra::kit
