// Graceful stop: requests in flight finish with their answer; then nothing listens any more.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "server/runtime.hpp"
#include "support/harness.hpp"

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
