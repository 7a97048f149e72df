#pragma once
// One service (LIMS or Analysis): its route table behind authentication, guards and error mapping.
#include <boost/asio/awaitable.hpp>
#include <string>

#include "platform/app.hpp"
#include "platform/error.hpp"
#include "platform/http/router.hpp"

namespace spectra {

class Service {
 public:
  Service(App& app, std::string name, Router router);
  // Route → authenticate → guard → content type → handler; every failure becomes problem+json.
  // Never throws.
  boost::asio::awaitable<http::Response> handle(http::Request& req);
  const std::string& name() const noexcept { return name_; }
  // The steps of handle(); actor is set once the caller is known.
  boost::asio::awaitable<http::Response> dispatch(http::Request& req, std::string& actor);
  const Router& router() const noexcept { return router_; }
  App& app() noexcept { return app_; }

 private:
  App& app_;
  std::string name_;
  Router router_;
};

// The problem+json response of an error (RFC 9457), with the request id.
http::Response problem_response(const ApiError& e, const std::string& request_id);

}  // namespace spectra
