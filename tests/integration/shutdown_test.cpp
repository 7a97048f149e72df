// Graceful stop: requests in flight finish with their answer; notification streams end with a retry
// hint; the audit events of the last requests are linked before the sequencer lets go; then nothing
// listens any more, and `spectra serve` exits 0 on SIGTERM.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <filesystem>
#include <fstream>

#include "server/runtime.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"
#include "support/http_stream.hpp"

using namespace spectra;
using namespace spectra::test;

TEST(Shutdown, RequestsInFlightFinishThenThePortsClose) {
  auto org = make_org();
  Runtime rt(Harness::get().config(), ServeOptions{true, false});
  rt.start();
  const auto port = rt.lims_port();
  const std::string body = boost::json::serialize(
      boost::json::object{{"email", org.user("viewer").email}, {"password", org.user("viewer").password}});
  HttpResponse answer;
  // A login spends tens of milliseconds hashing: long enough to stop the server in the middle.
  std::thread client([&] { answer = http_request(port, "POST", "/api/auth/login", body); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (rt.in_flight() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  ASSERT_GT(rt.in_flight(), 0) << "the login never started";
  rt.stop();
  client.join();
  EXPECT_EQ(answer.status, 200u) << answer.body;
  EXPECT_EQ(answer.header("connection"), "close");
  EXPECT_THROW(http_request(port, "GET", "/health"), std::exception);
}

TEST(Shutdown, NotificationStreamsEndWithARetryHint) {
  auto org = make_org();
  const auto token = login(org.user("engineer"));
  Runtime rt(Harness::get().config(), ServeOptions{true, false});
  rt.start();
  std::string body;
  std::atomic<bool> opened{false};
  StreamedResponse answer;
  std::thread client([&] {
    answer = http_stream(rt.lims_port(), "GET", "/api/notifications/stream", {{"Authorization", "Bearer " + token}},
                         [&](std::string_view piece) {
                           body.append(piece);
                           opened = true;
                         });
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!opened && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const bool was_open = opened;
  const auto stopping = std::chrono::steady_clock::now();
  rt.stop();
  client.join();
  ASSERT_TRUE(was_open) << "the stream never opened";
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(5));
  EXPECT_EQ(answer.status, 200u);
  EXPECT_TRUE(answer.complete) << "the stream broke instead of ending";
  EXPECT_EQ(body.rfind("retry: 3000\n\n", 0), 0u) << body;
  EXPECT_TRUE(body.ends_with("retry: 5000\n: the server is stopping\n\n")) << body;
}

TEST(Shutdown, TheAuditEventsOfTheLastRequestsAreLinkedBeforeTheSequencerStops) {
  // A server whose sequencer links once at start and then sleeps: what requests write stays pending
  // until the stop links it.
  const Config normal = Harness::get().config();
  Config sleepy = normal;
  sleepy.audit_sequencer_interval = std::chrono::hours(1);
  Harness::get().restart_server(sleepy);
  auto org = make_org();
  const auto token = login(org.admin());
  for (int i = 0; i < 3; ++i) {
    auto r = lims("POST", "/api/samples", token, R"({"name":"Last before the stop","sample_type":"film"})");
    ASSERT_EQ(r.status, 201u) << r.body;
  }
  const std::string pending_sql = "SELECT count(*) FROM audit_events WHERE organization_id = '" + org.id + "' AND seq IS NULL";
  EXPECT_GE(count(pending_sql), 3);
  Harness::get().stop_server();
  EXPECT_EQ(count(pending_sql), 0);
  EXPECT_GE(count("SELECT count(*) FROM audit_events WHERE organization_id = '" + org.id + "' AND action = 'sample.create'"), 3);
  Harness::get().restart_server(normal);
}

TEST(Shutdown, SigtermEndsServeWithExitStatusZero) {
  const auto ports = [] {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0}), b(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return std::pair{a.local_endpoint().port(), b.local_endpoint().port()};
  }();
  const auto dir = std::filesystem::temp_directory_path() / ("spectra-sigterm-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto& cfg = Harness::get().config();
  const std::string env = "DATABASE_URL='" + Harness::get().owner_dsn() + "' JWT_SECRET='" + cfg.jwt_secret +
                          "' AUDIT_KEY='" + cfg.audit_key + "' HOST=127.0.0.1 LIMS_PORT=" + std::to_string(ports.first) +
                          " ANALYSIS_PORT=" + std::to_string(ports.second) + " DATA_DIR='" + (dir / "data").string() +
                          "' SHUTDOWN_GRACE_SECONDS=5 LOG_LEVEL=info";
  // The subshell waits for the server and writes its exit status.
  run_command("cd '" + dir.string() + "' && ( " + env + " " + SPECTRA_BINARY +
              " serve >serve.log 2>&1 & echo $! >pid; wait $!; echo $? >status ) >/dev/null 2>&1 &");
  HttpResponse live;
  for (int i = 0; i < 300; ++i) {
    try {
      live = http_request(ports.first, "GET", "/health/live");
      if (live.status == 200) break;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(live.status, 200u) << run_command("cat '" + (dir / "serve.log").string() + "'");
  const pid_t pid = static_cast<pid_t>(std::stol(run_command("cat '" + (dir / "pid").string() + "'")));
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  std::string status;
  for (int i = 0; i < 300 && status.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = run_command("cat '" + (dir / "status").string() + "' 2>/dev/null || true");
  }
  const std::string log = run_command("cat '" + (dir / "serve.log").string() + "'");
  EXPECT_EQ(status, "0\n") << log;
  EXPECT_NE(log.find("stopped"), std::string::npos) << log;
  EXPECT_THROW(http_request(ports.first, "GET", "/health/live"), std::exception);
  std::filesystem::remove_all(dir);
}
