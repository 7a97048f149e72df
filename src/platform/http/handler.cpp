#include "platform/http/handler.hpp"

#include <boost/json.hpp>

namespace spectra::http {

Response problem_response(const ApiError& e, const std::string& request_id) {
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
    if (e.field_errors_truncated() > 0) body["errors_truncated"] = e.field_errors_truncated();
  }
  auto res = Response::json(status, json::serialize(body));
  res.content_type = "application/problem+json";
  bool says_when = false;
  for (const auto& h : e.headers()) {
    res.headers.push_back(h);
    says_when = says_when || h.first == "Retry-After";
  }
  // Every 503 is a passing state (a busy pool, a database restarting): the client is told when to
  // come back, unless the error said so itself.
  if (status == 503 && !says_when) res.headers.emplace_back("Retry-After", "1");
  return res;
}

}  // namespace spectra::http
