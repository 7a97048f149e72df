#pragma once
// One route table per service: method + path → handler, guard (minimum role, key scope), summary.
// The OpenAPI document is generated from the same table, so it cannot drift from the routes.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/rbac.hpp"
#include "platform/http/message.hpp"

namespace spectra {

struct RequestContext;
using Handler = std::function<boost::asio::awaitable<http::Response>(RequestContext&)>;

enum class Body { none, json, upload };

struct Route {
  http::Method method;
  std::string_view path;  // "/api/samples/{id}"
  Handler handler;
  auth::Guard guard;
  std::string_view summary;
  Body body = Body::none;
  unsigned success_status = 200;
};

class Router {
 public:
  Router(std::string title, std::vector<Route> routes);

  struct Match {
    const Route* route = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
    std::vector<http::Method> allowed;  // when the path exists but not with this method
  };
  Match match(http::Method method, std::string_view path) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }
  // OpenAPI 3.1 document of this route table.
  std::string openapi_json(std::string_view version) const;

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{name}" marks a parameter
    int literals = 0;
  };
  std::string title_;
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

}  // namespace spectra
