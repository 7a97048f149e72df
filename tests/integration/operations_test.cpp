// Operating the server as a lab's IT person does: liveness and readiness (and readiness naming what
// failed), Prometheus metrics by route template on METRICS_PORT and to a bearer of METRICS_TOKEN on the
// API ports, scraped by a real Prometheus, and one JSON access-log line per request.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "platform/crypto.hpp"
#include "platform/db/migrations.hpp"
#include "platform/log.hpp"
#include "server/runtime.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

// A port nothing listens on now (bound, then released).
std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

json::object ready_body(std::uint16_t port, unsigned* status = nullptr) {
  auto r = http_request(port, "GET", "/health/ready");
  if (status) *status = r.status;
  return json::parse(r.body).as_object();
}

// The value of one sample line of the exposition ("name{labels} value"), or -1.
double sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

}  // namespace

TEST(Operations, LiveAndReadyAnswerOnBothPorts) {
  for (auto* call : {&lims, &analysis}) {
    auto live = (*call)("GET", "/health/live", {}, {}, {});
    EXPECT_EQ(live.status, 200u) << live.body;
    EXPECT_EQ(json::parse(live.body).at("status"), "ok");
    auto ready = (*call)("GET", "/health/ready", {}, {}, {});
    ASSERT_EQ(ready.status, 200u) << ready.body;
    const auto body = json::parse(ready.body).as_object();
    EXPECT_EQ(body.at("status"), "ready");
    for (const char* check : {"database", "migrations", "content_store", "audit_sequencer"})
      EXPECT_EQ(body.at("checks").at(check), "ok") << check;
    EXPECT_EQ(ready.header("cache-control"), "no-store");
  }
}

TEST(Operations, ReadinessNamesWhatFailedWhileLivenessAndHealthStayUp) {
  // The content store under a regular file cannot be written; the sequencer's database does not answer.
  const auto scratch = std::filesystem::temp_directory_path() / ("spectra-ready-" + std::to_string(::getpid()));
  std::filesystem::create_directories(scratch);
  std::ofstream(scratch / "file") << "x";
  Config cfg = Harness::get().config();
  cfg.data_dir = (scratch / "file" / "store").string();
  cfg.sequencer_database_url = "postgresql://spectra_sequencer@127.0.0.1:1/nowhere?connect_timeout=1";
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  unsigned status = 0;
  auto body = ready_body(rt.lims_port(), &status);
  EXPECT_EQ(status, 503u) << json::serialize(body);
  EXPECT_EQ(body.at("status"), "unavailable");
  const auto& checks = body.at("checks").as_object();
  EXPECT_EQ(checks.at("database"), "ok");
  EXPECT_EQ(checks.at("migrations"), "ok");
  EXPECT_TRUE(checks.at("content_store").as_string().starts_with("not writable")) << checks.at("content_store");
  EXPECT_TRUE(checks.at("audit_sequencer").as_string().starts_with("not answering")) << checks.at("audit_sequencer");
  EXPECT_EQ(http_request(rt.lims_port(), "GET", "/health/live").status, 200u);
  EXPECT_EQ(http_request(rt.lims_port(), "GET", "/health").status, 200u);
  rt.stop();
  std::filesystem::remove_all(scratch);
}

TEST(Operations, ReadinessRefusesASchemaThatIsNotAtHead) {
  // For a moment, a newer migration than this build knows (a rolling upgrade gone the wrong way).
  const int head = db::embedded_migrations().back().version;
  owner().exec("INSERT INTO spectra_schema_migrations (version, name, checksum) VALUES ($1, 'from_the_future', 'x')",
               db::Params(head + 1));
  auto ready = lims("GET", "/health/ready");
  owner().exec("DELETE FROM spectra_schema_migrations WHERE version = $1", db::Params(head + 1));
  EXPECT_EQ(ready.status, 503u) << ready.body;
  EXPECT_EQ(json::value_to<std::string>(json::parse(ready.body).at("checks").at("migrations")),
            "at " + std::to_string(head + 1) + ", head is " + std::to_string(head));
  EXPECT_EQ(json::parse(ready.body).at("checks").at("database"), "ok");
  EXPECT_EQ(lims("GET", "/health/ready").status, 200u);
}

TEST(Operations, MetricsCountRequestsByRouteTemplateOnTheirPortAndToTheTokenOnTheApiPorts) {
  auto org = make_org();
  const auto token = login(org.user("engineer"));
  Config cfg = Harness::get().config();
  cfg.metrics_port = free_port();
  cfg.metrics_host = "127.0.0.1";
  cfg.metrics_token = "metrics-token-0123456789abcdef";
  Runtime rt(cfg, ServeOptions{true, true});
  rt.start();
  const Headers bearer{{"Authorization", "Bearer " + token}};
  auto created = http_request(rt.lims_port(), "POST", "/api/samples", R"({"name":"Metered","sample_type":"film"})",
                              {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string id(json::parse(created.body).at("id").as_string());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http_request(rt.lims_port(), "GET", "/api/samples/" + id, {}, bearer).status, 200u);
  EXPECT_EQ(http_request(rt.lims_port(), "GET", "/api/samples/" + crypto::uuid_v4(), {}, bearer).status, 404u);

  const Headers scraper{{"Authorization", "Bearer " + cfg.metrics_token}};
  auto scraped = http_request(rt.metrics_port(), "GET", "/metrics", {}, scraper);
  ASSERT_EQ(scraped.status, 200u) << scraped.body;
  EXPECT_EQ(scraped.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = scraped.body;
  EXPECT_EQ(sample(text, R"(spectra_http_requests_total{service="lims",method="GET",route="/api/samples/{id}",status="200"})"), 3);
  EXPECT_EQ(sample(text, R"(spectra_http_requests_total{service="lims",method="GET",route="/api/samples/{id}",status="404"})"), 1);
  EXPECT_EQ(sample(text, R"(spectra_http_requests_total{service="lims",method="POST",route="/api/samples",status="201"})"), 1);
  EXPECT_EQ(sample(text, R"(spectra_http_request_duration_seconds_count{service="lims",method="GET",route="/api/samples/{id}"})"), 4);
  EXPECT_EQ(sample(text, R"(spectra_http_request_duration_seconds_bucket{service="lims",method="GET",route="/api/samples/{id}",le="+Inf"})"), 4);
  EXPECT_EQ(text.find(id), std::string::npos) << "a raw id in the metrics";
  EXPECT_EQ(sample(text, R"(spectra_db_pool_connections{pool="requests",state="max"})"), cfg.db_pool_size);
  EXPECT_GE(sample(text, R"(spectra_db_pool_connections{pool="requests",state="open"})"), 1);
  EXPECT_GE(sample(text, R"(spectra_db_pool_waiting{pool="requests"})"), 0);
  EXPECT_GE(sample(text, "spectra_db_query_deadlines_total"), 0);
  EXPECT_GE(sample(text, R"(spectra_blocking_jobs{pool="bulk",state="queued"})"), 0);
  EXPECT_GE(sample(text, "spectra_audit_pending_events"), 0);
  EXPECT_GE(sample(text, "spectra_audit_lag_seconds"), 0);
  EXPECT_GE(sample(text, "spectra_login_failures_total"), 0);
  EXPECT_GE(sample(text, R"(spectra_webhook_attempts_total{outcome="failed"})"), 0);
  EXPECT_EQ(sample(text, "spectra_build_info{version=\"" SPECTRA_VERSION "\"}"), 1);

  // Without the token: 401 on the metrics port; the API ports answer only the token's bearer.
  EXPECT_EQ(http_request(rt.metrics_port(), "GET", "/metrics").status, 401u);
  EXPECT_EQ(http_request(rt.metrics_port(), "GET", "/other", {}, scraper).status, 404u);
  auto refused = http_request(rt.analysis_port(), "GET", "/metrics", {}, bearer);
  EXPECT_EQ(refused.status, 401u) << refused.body;
  EXPECT_EQ(refused.header("content-type"), "application/problem+json");
  auto by_token = http_request(rt.analysis_port(), "GET", "/metrics", {}, scraper);
  EXPECT_EQ(by_token.status, 200u);
  EXPECT_NE(by_token.body.find("spectra_http_requests_total"), std::string::npos);
  rt.stop();
  // The harness's server has no METRICS_TOKEN: no metrics on its API ports at all.
  EXPECT_EQ(lims("GET", "/metrics", token).status, 404u);
}

// Prometheus itself (Debian's) scrapes METRICS_PORT with the token, and its HTTP API answers a series of
// ours by its labels.
TEST(Operations, PrometheusScrapesTheServerAndAnswersASeriesByRoute) {
  const std::string prometheus = run_command("command -v prometheus || true");
  if (prometheus.empty()) FAIL() << "prometheus is missing (scripts/bootstrap installs it)";
  Config cfg = Harness::get().config();
  cfg.metrics_port = free_port();
  cfg.metrics_host = "127.0.0.1";
  cfg.metrics_token = "scrape-token-0123456789abcdef";
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(http_request(rt.lims_port(), "GET", "/health/live").status, 200u);

  const auto dir = std::filesystem::temp_directory_path() / ("spectra-prometheus-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                        << "scrape_configs:\n  - job_name: spectra\n"
                                        << "    authorization:\n      credentials: " << cfg.metrics_token << "\n"
                                        << "    static_configs:\n      - targets: ['127.0.0.1:" << rt.metrics_port() << "']\n";
  const auto web = free_port();
  const std::string pid_text = run_command(
      "cd '" + dir.string() + "' && prometheus --config.file=prometheus.yml --storage.tsdb.path=data"
      " --web.listen-address=127.0.0.1:" + std::to_string(web) + " >prometheus.log 2>&1 & echo $!");
  const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
  // route="/health/live", URL-encoded.
  const std::string query =
      "/api/v1/query?query=spectra_http_requests_total%7Broute%3D%22%2Fhealth%2Flive%22%2Cstatus%3D%22200%22%7D";
  json::value answer;
  for (int i = 0; i < 300; ++i) {
    try {
      auto r = http_request(web, "GET", query);
      if (r.status == 200) {
        answer = json::parse(r.body);
        if (!answer.at("data").at("result").as_array().empty()) break;
      }
    } catch (const std::exception&) {
      // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto up = http_request(web, "GET", "/api/v1/query?query=up%7Bjob%3D%22spectra%22%7D");
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (::kill(pid, 0) == 0) ::kill(pid, SIGKILL);
  rt.stop();
  ASSERT_TRUE(answer.is_object()) << run_command("tail -20 '" + (dir / "prometheus.log").string() + "'");
  const auto& result = answer.at("data").at("result").as_array();
  ASSERT_EQ(result.size(), 1u) << json::serialize(answer);
  const auto& metric = result[0].at("metric").as_object();
  EXPECT_EQ(metric.at("service"), "lims");
  EXPECT_EQ(metric.at("method"), "GET");
  EXPECT_EQ(metric.at("job"), "spectra");
  EXPECT_EQ(std::stod(std::string(result[0].at("value").as_array()[1].as_string())), 5);
  const auto up_result = json::parse(up.body).at("data").at("result").as_array();
  ASSERT_EQ(up_result.size(), 1u) << up.body;
  EXPECT_EQ(up_result[0].at("value").as_array()[1], "1");
  std::filesystem::remove_all(dir);
}

// LOG_FORMAT=json: one line per request with the route template, status, duration, organization, user
// and request id; never the body, the token or the raw path of a routed request.
TEST(Operations, EveryRequestLogsOneJsonLineWithItsRouteTemplateAndCaller) {
  auto org = make_org();
  const auto& engineer = org.user("engineer");
  const auto token = login(engineer);
  Config cfg = Harness::get().config();
  cfg.log_format = "json";
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("access-log-test", sink);
  apply_log_format(*logger, "json");
  logger->set_level(spdlog::level::info);
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  spdlog::set_default_logger(logger);
  const std::string secret_name = "Sample-named-in-the-body-only";
  auto created = http_request(rt.lims_port(), "POST", "/api/samples",
                              R"({"name":")" + secret_name + R"(","sample_type":"film"})",
                              {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"},
                               {"X-Request-Id", "ops-log-test-1"}});
  const std::string id(json::parse(created.body).at("id").as_string());
  http_request(rt.lims_port(), "GET", "/api/samples/" + id, {}, {{"Authorization", "Bearer " + token},
                                                                 {"X-Request-Id", "ops-log-test-2"}});
  logger->flush();
  spdlog::set_default_logger(previous);
  rt.stop();
  std::vector<json::object> requests;
  std::istringstream lines(captured.str());
  for (std::string line; std::getline(lines, line);) {
    auto v = json::parse(line).as_object();
    if (v.at("msg") == "request") requests.push_back(v);
  }
  ASSERT_EQ(requests.size(), 2u) << captured.str();
  EXPECT_EQ(requests[0].at("route"), "/api/samples");
  EXPECT_EQ(requests[0].at("status"), 201);
  EXPECT_EQ(requests[0].at("request_id"), "ops-log-test-1");
  EXPECT_EQ(requests[1].at("route"), "/api/samples/{id}");
  EXPECT_EQ(requests[1].at("method"), "GET");
  EXPECT_EQ(requests[1].at("status"), 200);
  EXPECT_EQ(requests[1].at("request_id"), "ops-log-test-2");
  for (const auto& r : requests) {
    EXPECT_EQ(json::value_to<std::string>(r.at("organization")), org.id);
    EXPECT_EQ(json::value_to<std::string>(r.at("user")), engineer.id);
    EXPECT_TRUE(r.at("duration_ms").is_number());
    EXPECT_EQ(r.if_contains("path"), nullptr);
  }
  EXPECT_EQ(captured.str().find(secret_name), std::string::npos);
  EXPECT_EQ(captured.str().find(token), std::string::npos);
  EXPECT_EQ(captured.str().find("/api/samples/" + id), std::string::npos);
}
