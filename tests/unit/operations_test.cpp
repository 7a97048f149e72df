// What operations read without a server: the metrics exposition as Prometheus parses it, and
// `spectra config check`'s masking and refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "platform/config.hpp"
#include "platform/metrics.hpp"

using namespace spectra;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

std::string value_of(const std::vector<std::pair<std::string, std::string>>& d, const std::string& key) {
  const auto it = std::find_if(d.begin(), d.end(), [&](const auto& kv) { return kv.first == key; });
  return it == d.end() ? "<absent>" : it->second;
}

Config production() {
  Config c;
  c.jwt_secret = std::string(48, 's');
  c.audit_key = std::string(40, 'a');
  c.host = "127.0.0.1";
  c.metrics_host = "127.0.0.1";
  return c;
}

}  // namespace

TEST(Metrics, CountersAndHistogramsAreWrittenAsPrometheusReadsThem) {
  metrics::Registry r;
  auto& requests = r.counter("t_requests_total", "Requests", {"route", "status"});
  requests.add({"/api/samples/{id}", "200"});
  requests.add({"/api/samples/{id}", "200"});
  requests.add({"/api/a\"b\\c\nd", "404"});
  auto& latency = r.histogram("t_seconds", "Latency", {"route"}, {0.01, 0.1, 1});
  latency.observe({"/x"}, 0.005);
  latency.observe({"/x"}, 0.1);  // on a bound: counted in it (le is inclusive)
  latency.observe({"/x"}, 3);
  const int id = r.add_collector([](metrics::Writer& w) { w.gauge("t_pool_waiting", "Waiting", 2); });
  const std::string text = r.text();
  EXPECT_TRUE(has_line(text, "# TYPE t_requests_total counter")) << text;
  EXPECT_TRUE(has_line(text, R"(t_requests_total{route="/api/samples/{id}",status="200"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(t_requests_total{route="/api/a\"b\\c\nd",status="404"} 1)")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE t_seconds histogram"));
  EXPECT_TRUE(has_line(text, R"(t_seconds_bucket{route="/x",le="0.01"} 1)")) << text;
  EXPECT_TRUE(has_line(text, R"(t_seconds_bucket{route="/x",le="0.1"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(t_seconds_bucket{route="/x",le="1"} 2)")) << text;
  EXPECT_TRUE(has_line(text, R"(t_seconds_bucket{route="/x",le="+Inf"} 3)")) << text;
  EXPECT_TRUE(has_line(text, R"(t_seconds_count{route="/x"} 3)")) << text;
  const auto sum_at = text.find("t_seconds_sum{route=\"/x\"} ");
  ASSERT_NE(sum_at, std::string::npos) << text;
  EXPECT_NEAR(std::stod(text.substr(sum_at + 26)), 3.105, 1e-12);
  EXPECT_TRUE(has_line(text, "t_pool_waiting 2")) << text;
  r.remove_collector(id);
  EXPECT_EQ(r.text().find("t_pool_waiting"), std::string::npos);
  // The same family asked for twice is one family.
  EXPECT_EQ(&r.counter("t_requests_total", "Requests", {"route", "status"}), &requests);
  EXPECT_THROW(requests.add({"only one label"}), std::logic_error);
}

TEST(ConfigCheck, SecretsAreMaskedAndPasswordsLeaveUrls) {
  Config c = production();
  c.database_url = "postgresql://spectra:hunter2-secret@db.example.org:5432/spectra";
  c.app_database_url = "host=db user=spectra_app password=app-secret-9 dbname=spectra";
  c.smtp_url = "smtps://mailer:smtp-pass@mail.example.org:465";
  c.metrics_token = "metrics-token-0123456789";
  const auto d = c.describe();
  std::string all;
  for (const auto& [k, v] : d) all += k + "=" + v + "\n";
  for (const char* secret : {"hunter2-secret", "app-secret-9", "smtp-pass", "metrics-token-0123456789", "ssssssss", "aaaaaaaa"})
    EXPECT_EQ(all.find(secret), std::string::npos) << secret << " in\n" << all;
  EXPECT_EQ(value_of(d, "DATABASE_URL"), "postgresql://spectra:****@db.example.org:5432/spectra");
  EXPECT_EQ(value_of(d, "DATABASE_APP_URL"), "host=db user=spectra_app password=**** dbname=spectra");
  EXPECT_EQ(value_of(d, "JWT_SECRET"), "(set, 48 bytes)");
  EXPECT_EQ(value_of(d, "AUDIT_KEY"), "(set, 40 bytes)");
  EXPECT_EQ(value_of(d, "SMTP_URL"), "smtps://mailer:****@mail.example.org:465");
  EXPECT_TRUE(c.production_problems().empty());
}

TEST(ConfigCheck, DangerousProductionSettingsAreRefusedEachByName) {
  const auto refused = [](const Config& c, const std::string& fragment) {
    const auto p = c.production_problems();
    return std::any_of(p.begin(), p.end(), [&](const std::string& s) { return s.find(fragment) != std::string::npos; });
  };
  Config short_secret = production();
  short_secret.jwt_secret = "too-short";
  EXPECT_TRUE(refused(short_secret, "JWT_SECRET is shorter than 32 bytes"));
  Config rs256 = short_secret;
  rs256.jwt_algorithm = "RS256";  // keys, not a secret
  EXPECT_FALSE(refused(rs256, "JWT_SECRET"));
  Config no_audit = production();
  no_audit.audit_key.clear();
  EXPECT_TRUE(refused(no_audit, "AUDIT_KEY"));
  Config public_http = production();
  public_http.host = "0.0.0.0";
  EXPECT_TRUE(refused(public_http, "TLS is off and HOST 0.0.0.0"));
  Config behind_proxy = public_http;
  behind_proxy.trusted_proxies = {"10.0.0.5"};
  EXPECT_TRUE(behind_proxy.production_problems().empty());
  Config with_tls = public_http;
  with_tls.tls_cert_file = "cert.pem";
  with_tls.tls_key_file = "key.pem";
  EXPECT_TRUE(with_tls.production_problems().empty());
  Config open_metrics = production();
  open_metrics.metrics_port = 9464;
  open_metrics.metrics_host = "0.0.0.0";
  EXPECT_TRUE(refused(open_metrics, "METRICS_HOST 0.0.0.0"));
  open_metrics.metrics_token = "metrics-token-0123456789";
  EXPECT_TRUE(open_metrics.production_problems().empty());
}
