// The shared mechanisms behind the integrity fixes, without a socket or a database: the fair waiting
// room of the blocking pools, the bound on listed problems, and which paths are the web app's pages.
#include <gtest/gtest.h>

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <atomic>
#include <functional>
#include <mutex>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "kit/input.hpp"
#include "platform/blocking.hpp"
#include "platform/fair_queue.hpp"
#include "platform/http/handler.hpp"
#include "platform/http/static_site.hpp"

using namespace spectra;
namespace json = boost::json;

namespace {

// A job awaited on the pool for `share` (parameters, not captures: GCC 12 and coroutine lambdas).
boost::asio::awaitable<void> await_job(BlockingPool& pool, std::function<int()> job, WorkShare share) {
  co_await pool.run(std::move(job), std::move(share));
}

// Pops every waiting job, running each (it appends its name to `order`).
std::string drain(FairQueue& q, std::string& order) {
  while (auto job = q.pop()) (*job)();
  return order;
}

}  // namespace

TEST(FairQueue, OrganizationsTakeTurnsAndUsersWithinThem) {
  FairQueue q({64, 16, 8});
  std::string order;
  auto job = [&](std::string name) { return [&order, name] { order += name + " "; }; };
  // Organization a floods first (two users), then b and c each queue one job.
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(q.push("a", "alice", job("a" + std::to_string(i))));
  ASSERT_TRUE(q.push("a", "arne", job("A1")));
  ASSERT_TRUE(q.push("b", "bob", job("b1")));
  ASSERT_TRUE(q.push("c", "cleo", job("c1")));
  EXPECT_EQ(q.size(), 6u);
  // b and c wait one job each, not a's four; within a, alice and arne alternate.
  EXPECT_EQ(drain(q, order), "a1 b1 c1 A1 a2 a3 ");
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.pop());
}

TEST(FairQueue, AFullShareIsRefusedWhileOthersStillGetIn) {
  FairQueue q({10, 4, 2});
  auto nothing = [] {};
  EXPECT_TRUE(q.push("a", "u1", nothing));
  EXPECT_TRUE(q.push("a", "u1", nothing));
  EXPECT_FALSE(q.push("a", "u1", nothing)) << "one user holds at most 2";
  EXPECT_TRUE(q.push("a", "u2", nothing));
  EXPECT_TRUE(q.push("a", "u2", nothing));
  EXPECT_FALSE(q.push("a", "u3", nothing)) << "one organization holds at most 4";
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(q.push("b", "u" + std::to_string(i), nothing));
  EXPECT_EQ(q.size(), 6u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.push("c" + std::to_string(i), "u", nothing));
  EXPECT_FALSE(q.push("d", "u", nothing)) << "the room holds at most 10";
  // A refusal leaves nothing behind: after the queue drains, every share starts empty.
  while (q.pop()) {
  }
  EXPECT_TRUE(q.push("a", "u3", nothing));
}

TEST(BlockingPool, AnotherOrganizationsJobRunsBeforeAFloodsBacklog) {
  BlockingPool pool(1, 64);
  boost::asio::io_context io;
  std::atomic<bool> release{false};
  std::vector<std::string> done;
  std::mutex m;
  auto job = [&](std::string name, bool hold) {
    return [&, name, hold] {
      while (hold && !release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard lock(m);
      done.push_back(name);
      return 0;
    };
  };
  auto spawn = [&](std::string name, bool hold, std::string org) {
    boost::asio::co_spawn(io, await_job(pool, job(name, hold), WorkShare{org, "u-" + name}), boost::asio::detached);
  };
  spawn("flood-0", true, "flood");  // takes the only worker until released
  io.poll();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 1; i <= 8; ++i) spawn("flood-" + std::to_string(i), false, "flood");
  spawn("other", false, "other");
  io.poll();
  release = true;
  while (true) {
    io.run_for(std::chrono::milliseconds(10));
    std::lock_guard lock(m);
    if (done.size() == 10) break;
  }
  ASSERT_EQ(done.size(), 10u);
  EXPECT_EQ(done[0], "flood-0");
  EXPECT_EQ(done[2], "other") << "second in the queue, after one job of the flood";
}

TEST(BlockingPool, AFullShareAnswers503WithRetryAfter) {
  BlockingPool pool(1, 4);  // one organization may hold 1 waiting job, one user 1
  boost::asio::io_context io;
  std::atomic<bool> release{false};
  std::atomic<int> refused{0}, finished{0};
  auto held = [&release] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 0;
  };
  auto spawn = [&] {
    boost::asio::co_spawn(io, await_job(pool, held, WorkShare{"org", "user"}), [&](std::exception_ptr e) {
      if (!e) return void(++finished);
      try {
        std::rethrow_exception(e);
      } catch (const ApiError& refusal) {
        EXPECT_EQ(refusal.code(), ErrorCode::unavailable);
        EXPECT_EQ(refusal.headers().at(0).second, "1");
        ++refused;
      }
    });
  };
  spawn();  // runs, and holds the only worker
  io.poll();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int i = 0; i < 3; ++i) spawn();
  io.poll();
  EXPECT_EQ(refused.load(), 2) << "one runs, one waits, the rest are refused";
  release = true;
  while (finished + refused < 4) io.run_for(std::chrono::milliseconds(10));
  EXPECT_EQ(finished.load(), 2);
}

TEST(Problems, AtMostAHundredAreListedAndTheRestCounted) {
  kit::Problems p;
  for (int i = 0; i < 20000; ++i) p.add("field_" + std::to_string(i), "unknown field");
  try {
    p.raise_if_any(ErrorCode::unprocessable);
    FAIL() << "no error raised";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.field_errors().size(), max_field_errors);
    EXPECT_EQ(e.field_errors_truncated(), 20000u - max_field_errors);
    EXPECT_LT(e.detail().size(), 400u) << "the detail names a few, not all";
    EXPECT_NE(e.detail().find("and 19995 more"), std::string::npos) << e.detail();
    const auto res = http::problem_response(e, "req-1");
    const auto body = json::parse(res.body);
    EXPECT_EQ(body.at("errors").as_array().size(), 100u);
    EXPECT_EQ(body.at("errors_truncated").as_int64(), 19900);
    EXPECT_LT(res.body.size(), 12u * 1024);
  }
  // An error built field by field (the CSV import's) is bounded the same way.
  ApiError direct = unprocessable("The file was not imported");
  for (int i = 0; i < 150; ++i) direct.with_field("rows[" + std::to_string(i) + "]", "bad");
  EXPECT_EQ(direct.field_errors().size(), 100u);
  EXPECT_EQ(direct.field_errors_truncated(), 50u);
  // Under the bound: no count at all.
  const auto few = json::parse(http::problem_response(unprocessable("x").with_field("a", "b"), "r").body);
  EXPECT_FALSE(few.as_object().contains("errors_truncated"));
}

TEST(StaticSite, OnlyTheAppsPagesAnswerIndexHtml) {
  const auto root = std::filesystem::temp_directory_path() / ("spectra-site-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "assets");
  std::ofstream(root / "index.html") << "<!doctype html><title>app</title>";
  std::ofstream(root / "assets" / "app-1.js") << "1";
  std::ofstream(root / "pages.json") << R"(["/", "/samples", "/samples/:id", "/samples/:id/edit"])";
  const http::StaticSite site(root.string());
  for (const char* page : {"/", "/samples", "/samples/42", "/samples/42/edit"}) {
    auto r = site.answer(page, std::nullopt);
    ASSERT_TRUE(r) << page;
    EXPECT_EQ(r->content_type, "text/html; charset=utf-8") << page;
  }
  for (const char* other : {"/typo", "/api/typo", "/samples/42/delete", "/samples/42/edit/more", "/assets/gone.js"})
    EXPECT_FALSE(site.answer(other, std::nullopt)) << other;
  EXPECT_TRUE(site.answer("/assets/app-1.js", std::nullopt));
  std::filesystem::remove_all(root);
}
