// What the web app stands on, as a browser would exercise it: the built app served at / on the LIMS
// port with its cache policy and strict headers (a Content-Security-Policy without inline script); the
// refresh token in an HttpOnly, SameSite=Strict cookie scoped to the auth routes (set at login, rotated
// by a cookie refresh that keeps the token out of the body, cleared and revoked by logout); and CORS on
// the Analysis API for the web app's origin only (CORS_ORIGINS; the harness names http://app.test).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

HttpResponse sign_in(const TestUser& u) {
  return lims("POST", "/api/auth/login", {}, js(json::object{{"email", u.email}, {"password", u.password}}));
}

// The value the Set-Cookie header gives spectra_refresh.
std::string cookie_value(const HttpResponse& r) {
  const std::string set = r.header("set-cookie");
  const std::string name = "spectra_refresh=";
  if (set.rfind(name, 0) != 0) return "<no spectra_refresh cookie: " + set + ">";
  return set.substr(name.size(), set.find(';') - name.size());
}

HttpResponse refresh_with_cookie(const std::string& token) {
  return lims("POST", "/api/auth/refresh", {}, {}, {{"Cookie", "theme=dark; spectra_refresh=" + token}});
}

}  // namespace

TEST(WebSession, LoginSetsAnHttpOnlyStrictCookieScopedToTheAuthRoutes) {
  auto org = make_org();
  auto in = sign_in(org.user("engineer"));
  ASSERT_EQ(in.status, 200u) << describe(in);
  const std::string set = in.header("set-cookie");
  EXPECT_EQ(cookie_value(in), str(in.json(), "refresh_token"));  // the JSON form stays as API.md says
  EXPECT_NE(set.find("; HttpOnly"), std::string::npos) << set;
  EXPECT_NE(set.find("; SameSite=Strict"), std::string::npos) << set;
  EXPECT_NE(set.find("; Path=/api/auth;"), std::string::npos) << set;
  EXPECT_NE(set.find("; Max-Age=604800"), std::string::npos) << set;  // JWT_REFRESH_TOKEN_EXPIRE_DAYS
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "plain HTTP here: " << set;
}

TEST(WebSession, ACookieRefreshRotatesTheCookieAndKeepsTheTokenOutOfTheBody) {
  auto org = make_org();
  auto in = sign_in(org.user("technician"));
  const std::string first = cookie_value(in);
  auto r = refresh_with_cookie(first);
  ASSERT_EQ(r.status, 200u) << describe(r);
  EXPECT_FALSE(r.json().as_object().contains("refresh_token")) << r.body;
  const std::string second = cookie_value(r);
  EXPECT_NE(second, first);
  EXPECT_NE(r.header("set-cookie").find("HttpOnly"), std::string::npos);
  const std::string access = str(r.json(), "access_token");
  auto me = lims("GET", "/api/auth/me", access);
  ASSERT_EQ(me.status, 200u);
  EXPECT_EQ(str(me.json(), "id"), org.user("technician").id);
  // The first token is spent: presenting it again is reuse, and revokes the session.
  EXPECT_EQ(refresh_with_cookie(first).status, 401u);
  EXPECT_EQ(refresh_with_cookie(second).status, 401u);
  // Neither a body nor a cookie: no credentials, 401 (a first visit of the app asks this).
  auto none = lims("POST", "/api/auth/refresh");
  EXPECT_EQ(none.status, 401u) << describe(none);
  EXPECT_EQ(none.header("www-authenticate"), "Bearer");
}

TEST(WebSession, LogoutRevokesTheCookiesSessionAndClearsIt) {
  auto org = make_org();
  auto browser = sign_in(org.user("pi"));
  auto phone = sign_in(org.user("pi"));  // another session of the same person
  const std::string access = str(browser.json(), "access_token");
  auto out = lims("POST", "/api/auth/logout", access, {}, {{"Cookie", "spectra_refresh=" + cookie_value(browser)}});
  ASSERT_EQ(out.status, 204u) << describe(out);
  EXPECT_NE(out.header("set-cookie").find("spectra_refresh=; Path=/api/auth; Max-Age=0"), std::string::npos)
      << out.header("set-cookie");
  EXPECT_EQ(refresh_with_cookie(cookie_value(browser)).status, 401u);
  // Only that session ended.
  EXPECT_EQ(refresh_with_cookie(cookie_value(phone)).status, 200u);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'logout'", db::Params(org.id)), 1);
}

TEST(Cors, TheAnalysisApiAnswersTheWebAppsOriginOnly) {
  auto org = make_org();
  const std::string token = login(org.user("engineer"));
  const Headers app{{"Origin", "http://app.test"}};
  // A preflight names the method and headers the page will send.
  auto pre = analysis("OPTIONS", "/api/v1/spc/series", {}, {},
                      {{"Origin", "http://app.test"}, {"Access-Control-Request-Method", "POST"},
                       {"Access-Control-Request-Headers", "authorization, content-type"}});
  EXPECT_EQ(pre.status, 204u) << describe(pre);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "http://app.test");
  EXPECT_EQ(pre.header("access-control-allow-methods"), "POST");
  EXPECT_NE(pre.header("access-control-allow-headers").find("Authorization"), std::string::npos);
  EXPECT_NE(pre.header("access-control-allow-headers").find("Content-Type"), std::string::npos);
  EXPECT_EQ(pre.header("access-control-allow-credentials"), "");  // bearer tokens, never cookies
  // The request itself carries the origin back, and the headers a page may read.
  auto list = analysis("GET", "/api/v1/instruments", token, {}, app);
  EXPECT_EQ(list.status, 200u);
  EXPECT_EQ(list.header("access-control-allow-origin"), "http://app.test");
  EXPECT_NE(list.header("access-control-expose-headers").find("X-Request-Id"), std::string::npos);
  EXPECT_EQ(list.header("vary"), "Origin");
  // A refusal is readable by the page too (problem+json with its status).
  auto refused = analysis("POST", "/api/v1/spc/series", token, "{}", app);
  EXPECT_EQ(refused.status, 422u);
  EXPECT_EQ(refused.header("access-control-allow-origin"), "http://app.test");

  // Another origin gets no CORS answer: the browser keeps its page from reading anything.
  auto evil_pre = analysis("OPTIONS", "/api/v1/spc/series", {}, {},
                           {{"Origin", "http://evil.test"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_NE(evil_pre.status, 204u);
  EXPECT_EQ(evil_pre.header("access-control-allow-origin"), "");
  EXPECT_EQ(analysis("GET", "/api/v1/instruments", token, {}, {{"Origin", "http://evil.test"}})
                .header("access-control-allow-origin"),
            "");
  // A path or method that does not exist is not announced.
  auto nowhere = analysis("OPTIONS", "/api/v1/nowhere", {}, {},
                          {{"Origin", "http://app.test"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(nowhere.status, 404u);
  EXPECT_EQ(nowhere.header("access-control-allow-origin"), "");
  // The LIMS API is the web app's own origin: it answers no CORS at all.
  auto lims_pre = lims("OPTIONS", "/api/samples", {}, {},
                       {{"Origin", "http://app.test"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(lims_pre.header("access-control-allow-origin"), "");
}

TEST(WebApp, TheLimsPortServesTheBuiltAppWithItsCachePolicyAndStrictHeaders) {
  auto page = lims("GET", "/");
  ASSERT_EQ(page.status, 200u) << describe(page);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("web fixture for the integration tests"), std::string::npos);
  EXPECT_EQ(page.header("cache-control"), "no-cache");
  const std::string csp = page.header("content-security-policy");
  for (const char* part : {"default-src 'self'", "script-src 'self';", "frame-ancestors 'none'", "object-src 'none'"})
    EXPECT_NE(csp.find(part), std::string::npos) << part << " in " << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_EQ(page.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(page.header("referrer-policy"), "no-referrer");
  EXPECT_EQ(page.header("x-frame-options"), "DENY");
  // A page of the app is index.html; a hashed bundle is cached for a year; an unchanged file is 304.
  auto deep = lims("GET", "/samples/0f1e2d3c");
  EXPECT_EQ(deep.status, 200u);
  EXPECT_EQ(deep.body, page.body);
  auto script = lims("GET", "/assets/app-3f9a1c.js");
  ASSERT_EQ(script.status, 200u);
  EXPECT_EQ(script.header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(script.header("cache-control"), "public, max-age=31536000, immutable");
  auto again = lims("GET", "/", {}, {}, {{"If-None-Match", page.header("etag")}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_EQ(lims("GET", "/favicon.svg").header("content-type"), "image/svg+xml");
  // The app learns where the Analysis API is (the port it is bound to), and the policy lets it call it.
  auto app_config = lims("GET", "/config.json");
  ASSERT_EQ(app_config.status, 200u);
  EXPECT_EQ(app_config.header("cache-control"), "no-cache");
  const auto analysis_port = Harness::get().analysis_port();
  EXPECT_EQ(json::parse(app_config.body).at("analysis_port").as_int64(), analysis_port) << app_config.body;
  // The policy lets a page served at each allowed origin call the Analysis API on that host.
  EXPECT_NE(csp.find("connect-src 'self' http://app.test:" + std::to_string(analysis_port) + ";"), std::string::npos) << csp;
  // What is not there stays a 404 problem: a missing file, and any unknown API path.
  auto missing = lims("GET", "/assets/gone-000000.js");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.header("content-type"), "application/problem+json");
  auto api = lims("GET", "/api/nowhere");
  EXPECT_EQ(api.status, 404u);
  EXPECT_EQ(api.header("content-type"), "application/problem+json");
  // Files are served from memory by name: nothing outside the app can be reached.
  EXPECT_EQ(lims("GET", "/../../etc/passwd").body.find("root:"), std::string::npos);
  EXPECT_EQ(lims("GET", "/%2e%2e/%2e%2e/etc/passwd").body.find("root:"), std::string::npos);
  // The API's answers carry the same headers; the Analysis API serves no app.
  EXPECT_EQ(lims("GET", "/health").header("x-frame-options"), "DENY");
  EXPECT_EQ(analysis("GET", "/").status, 404u);
}

TEST(WebApp, DocsRenderEachServicesOpenApiDocumentForPeople) {
  auto analysis_docs = analysis("GET", "/docs");
  ASSERT_EQ(analysis_docs.status, 200u) << describe(analysis_docs);
  EXPECT_EQ(analysis_docs.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(analysis_docs.body.find("<code>POST /api/v1/spc/series/{id}/points</code>"), std::string::npos);
  EXPECT_NE(analysis_docs.body.find("<code>points</code>"), std::string::npos);  // the body's fields
  auto lims_docs = lims("GET", "/docs");
  ASSERT_EQ(lims_docs.status, 200u);
  EXPECT_NE(lims_docs.body.find("<code>POST /api/auth/login</code>"), std::string::npos);
  EXPECT_NE(lims_docs.body.find("href=\"/openapi.json\""), std::string::npos);
  // Nothing runs and nothing comes from elsewhere.
  for (const auto* page : {&analysis_docs, &lims_docs}) {
    EXPECT_EQ(page->body.find("<script"), std::string::npos);
    EXPECT_EQ(page->body.find("http://"), std::string::npos);
    EXPECT_EQ(page->body.find("https://"), std::string::npos);
  }
}
