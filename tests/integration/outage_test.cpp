// The pool survives a PostgreSQL restart: 503 during the outage, healthy again without a server restart.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/harness.hpp"

using namespace spectra::test;

TEST(Outage, HealthIs503WhileDatabaseIsDownAndRecoversAfterRestart) {
  const std::string script = pg_script();
  if (script.empty()) GTEST_SKIP() << "POSTGRES_TEST_DSN names an external cluster; the test does not stop it";
  ASSERT_EQ(lims("GET", "/health").status, 200u);
  ASSERT_EQ(std::system((script + " stop test").c_str()), 0);
  auto down = lims("GET", "/health");
  EXPECT_EQ(down.status, 503u);
  EXPECT_EQ(down.json().at("database"), "unavailable");
  auto down_a = analysis("GET", "/health");
  EXPECT_EQ(down_a.status, 503u);
  // A request that needs the database gets a clean 503 problem, not a hang or a 500.
  auto login = lims("POST", "/api/auth/login", {}, R"({"email":"nobody@example.test","password":"whatever-long"})");
  EXPECT_EQ(login.status, 503u) << login.body;
  EXPECT_EQ(login.header("content-type"), "application/problem+json");

  ASSERT_EQ(std::system((script + " start test").c_str()), 0);
  unsigned status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    status = lims("GET", "/health").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 200u) << "the server did not recover within 5 seconds";
  // And it keeps serving, on both services.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(analysis("GET", "/health").status, 200u);
}
