// Notifications and webhooks as their users check them: an approver hears of a submitted recipe (its
// author does not), once, and only of committed changes; marking read; preferences; the live stream
// and its resumption; calibration notices once per calibration; webhooks signed per Standard Webhooks,
// retried with the same id and logged; mail through SMTP, immediate and as a daily digest, kept while
// the SMTP server is down; bad input and another organization's ids.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lims/notifications/rules.hpp"
#include "platform/crypto.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string submitted_recipe(const std::string& author, const std::string& name) {
  auto r = lims("POST", "/api/recipes", author,
                js(json::object{{"name", name}, {"parameters", json::object{{"temperature_c", 450}}}}));
  if (r.status != 201) throw std::runtime_error("creating a recipe failed: " + describe(r));
  const std::string id = str(r.json(), "id");
  auto s = lims("POST", "/api/recipes/" + id + "/submit", author);
  if (s.status != 200) throw std::runtime_error("submitting a recipe failed: " + describe(s));
  return id;
}

// Polls until `done` holds (up to `seconds`).
bool eventually(const std::function<bool()>& done, int seconds = 15) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

std::int64_t notifications_of(const std::string& user, const std::string& event, const std::string& entity) {
  return count("SELECT count(*) FROM notifications WHERE user_id = $1 AND event = $2 AND entity_id = $3",
               db::Params(user, event, entity));
}

// The caller's notifications list.
json::object list(const std::string& token, const std::string& query = "") {
  auto r = lims("GET", "/api/notifications" + query, token);
  if (r.status != 200) throw std::runtime_error("listing notifications failed: " + describe(r));
  return r.json().as_object();
}

// A server on a loopback port of its own: each connection is handed to `serve`, one at a time, on its
// thread, until it is destroyed.
class LoopbackServer {
 public:
  explicit LoopbackServer(std::function<void(tcp::socket&)> serve)
      : serve_(std::move(serve)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] {
      while (!stop_) {
        tcp::socket s(ioc_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (!ec && !stop_) serve_(s);
      }
    });
  }
  ~LoopbackServer() {
    stop_ = true;
    boost::system::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  std::function<void(tcp::socket&)> serve_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// An HTTP receiver: answers each request with the next status of `statuses` (the last one repeats) and
// keeps what it got.
class Receiver {
 public:
  struct Got {
    std::string head, body;
  };
  explicit Receiver(std::vector<int> statuses) : statuses_(std::move(statuses)), server_([this](tcp::socket& s) { serve(s); }) {}
  int port() const { return server_.port(); }
  std::vector<Got> got() {
    std::lock_guard lock(mutex_);
    return got_;
  }

 private:
  void serve(tcp::socket& s) {
    boost::system::error_code ec;
    asio::streambuf buf;
    asio::read_until(s, buf, "\r\n\r\n", ec);
    if (ec) return;
    std::string data{asio::buffers_begin(buf.data()), asio::buffers_end(buf.data())};
    const auto end = data.find("\r\n\r\n");
    std::string head = data.substr(0, end), body = data.substr(end + 4);
    std::size_t length = 0;
    for (const char* name : {"Content-Length: ", "content-length: "})
      if (auto at = head.find(name); at != std::string::npos) length = std::stoul(head.substr(at + std::strlen(name)));
    while (body.size() < length) {
      char chunk[4096];
      const auto n = s.read_some(asio::buffer(chunk), ec);
      if (ec) break;
      body.append(chunk, n);
    }
    int status;
    {
      std::lock_guard lock(mutex_);
      got_.push_back({head, body});
      status = statuses_[std::min(got_.size() - 1, statuses_.size() - 1)];
    }
    const std::string answer = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    asio::write(s, asio::buffer(answer), ec);
  }
  std::vector<int> statuses_;
  std::mutex mutex_;
  std::vector<Got> got_;
  LoopbackServer server_;  // last: it stops before what it uses goes
};

// An SMTP sink: accepts every message and keeps its text.
class SmtpSink {
 public:
  SmtpSink() : server_([this](tcp::socket& s) { serve(s); }) {}
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(server_.port()); }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  void serve(tcp::socket& s) {
    boost::system::error_code ec;
    asio::streambuf buf;
    auto say = [&](const std::string& line) { asio::write(s, asio::buffer(line + "\r\n"), ec); };
    auto line = [&]() -> std::string {
      asio::read_until(s, buf, "\r\n", ec);
      if (ec) return {};
      std::istream in(&buf);
      std::string l;
      std::getline(in, l);
      if (!l.empty() && l.back() == '\r') l.pop_back();
      return l;
    };
    say("220 sink ESMTP");
    while (!ec) {
      const auto cmd = line();
      if (ec) break;
      if (cmd.rfind("EHLO", 0) == 0 || cmd.rfind("HELO", 0) == 0) say("250 sink");
      else if (cmd == "DATA") {
        say("354 go on");
        std::string message;
        for (auto l = line(); !ec && l != "."; l = line()) message += l + "\n";
        {
          std::lock_guard lock(mutex_);
          messages_.push_back(message);
        }
        say("250 queued");
      } else if (cmd == "QUIT") {
        say("221 bye");
        break;
      } else say("250 ok");
    }
  }
  std::mutex mutex_;
  std::vector<std::string> messages_;
  LoopbackServer server_;
};

// Opens the notification stream and reads what arrives for `seconds` (or until `until` appears).
std::string read_stream(const std::string& token, const std::string& last_event_id, const std::string& until,
                        int seconds, const std::function<void()>& after_open = {}) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), Harness::get().lims_port()});
  std::string req = "GET /api/notifications/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n";
  if (!last_event_id.empty()) req += "Last-Event-ID: " + last_event_id + "\r\n";
  req += "\r\n";
  asio::write(s, asio::buffer(req));
  timeval tv{1, 0};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  bool opened = false;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    char chunk[4096];
    const auto n = ::recv(s.native_handle(), chunk, sizeof chunk, 0);
    if (n > 0) got.append(chunk, static_cast<std::size_t>(n));
    if (n == 0) break;
    if (!opened && got.find("retry: 3000") != std::string::npos) {
      opened = true;
      if (after_open) after_open();
    }
    if (!until.empty() && got.find(until) != std::string::npos) break;
  }
  return got;
}

}  // namespace

TEST(Notifications, ASubmittedRecipeReachesItsApproversOnceAndNeverItsAuthor) {
  auto org = make_org();
  auto other = make_org();
  const auto eng = login(org.user("engineer")), pi = login(org.user("pi")), admin = login(org.admin());
  const std::string recipe = submitted_recipe(eng, "Anneal 450");
  ASSERT_TRUE(eventually([&] { return notifications_of(org.user("pi").id, "recipe.submitted", recipe) == 1; }));
  EXPECT_TRUE(eventually([&] { return notifications_of(org.admin().id, "recipe.submitted", recipe) == 1; }));
  // A refused change (submitting again: 409) raises nothing; the author, the technician and the viewer
  // hear nothing; another organization's people hear nothing.
  EXPECT_EQ(lims("POST", "/api/recipes/" + recipe + "/submit", eng).status, 409u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(notifications_of(org.user("pi").id, "recipe.submitted", recipe), 1);
  for (const char* role : {"engineer", "technician", "viewer"})
    EXPECT_EQ(notifications_of(org.user(role).id, "recipe.submitted", recipe), 0) << role;
  EXPECT_EQ(count("SELECT count(*) FROM notifications WHERE organization_id = $1", db::Params(other.id)), 0);

  // The PI's list: the notification, unread, counted; the author's is empty.
  auto mine = list(pi, "?unread=true");
  ASSERT_EQ(mine.at("items").as_array().size(), 1u) << json::serialize(mine);
  const auto& n = mine.at("items").as_array()[0].as_object();
  EXPECT_EQ(n.at("event").as_string(), "recipe.submitted");
  EXPECT_EQ(n.at("entity_type").as_string(), "recipe");
  EXPECT_EQ(n.at("entity_id").as_string(), recipe);
  EXPECT_NE(std::string(n.at("title").as_string()).find("Anneal 450"), std::string::npos) << n.at("title");
  EXPECT_TRUE(n.at("read_at").is_null());
  EXPECT_EQ(mine.at("unread").as_int64(), 1);
  EXPECT_EQ(list(eng).at("items").as_array().size(), 0u);
  const std::string id(n.at("id").as_string());

  // Marked read by its owner alone: another person's or organization's id is 404 and changes nothing.
  const auto other_admin = login(other.admin());
  EXPECT_EQ(lims("POST", "/api/notifications/" + id + "/read", other_admin).status, 404u);
  EXPECT_EQ(lims("POST", "/api/notifications/" + id + "/read", admin).status, 404u);
  EXPECT_EQ(count("SELECT count(*) FROM notifications WHERE id = $1 AND read_at IS NULL", db::Params(id)), 1);
  auto read = lims("POST", "/api/notifications/" + id + "/read", pi);
  ASSERT_EQ(read.status, 200u) << describe(read);
  EXPECT_FALSE(read.json().at("read_at").is_null());
  EXPECT_EQ(list(pi, "?unread=true").at("items").as_array().size(), 0u);
  EXPECT_EQ(list(pi).at("unread").as_int64(), 0);

  // Read all: the admin's one.
  auto all = lims("POST", "/api/notifications/read-all", admin);
  ASSERT_EQ(all.status, 200u) << describe(all);
  EXPECT_EQ(all.json().at("marked").as_int64(), 1);
  EXPECT_EQ(count("SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL", db::Params(org.admin().id)), 0);
  EXPECT_EQ(lims("POST", "/api/notifications/not-a-uuid/read", pi).status, 400u);
  EXPECT_EQ(lims("GET", "/api/notifications?unread=maybe", pi).status, 400u);
}

TEST(Notifications, PreferencesChooseTheAppAndMailPerEventType) {
  auto org = make_org();
  const auto pi = login(org.user("pi")), eng = login(org.user("engineer"));
  auto got = lims("GET", "/api/notification-preferences", pi);
  ASSERT_EQ(got.status, 200u) << describe(got);
  bool found = false;
  const auto prefs = got.json();
  for (const auto& item : prefs.at("items").as_array())
    if (item.at("event").as_string() == "recipe.submitted") {
      found = true;
      EXPECT_TRUE(item.at("in_app").as_bool());
      EXPECT_EQ(item.at("email").as_string(), "off");
    }
  EXPECT_TRUE(found);

  // Bad input names the field and changes nothing.
  auto bad = lims("PATCH", "/api/notification-preferences", pi,
                  R"({"preferences":[{"event":"recipe.submitted","email":"weekly"}]})");
  EXPECT_EQ(bad.status, 422u) << describe(bad);
  EXPECT_TRUE(names(bad, "preferences[0].email")) << describe(bad);
  bad = lims("PATCH", "/api/notification-preferences", pi, R"({"preferences":[{"event":"recipe.eaten","in_app":false}]})");
  EXPECT_EQ(bad.status, 422u) << describe(bad);
  EXPECT_TRUE(names(bad, "preferences[0].event")) << describe(bad);
  EXPECT_EQ(count("SELECT count(*) FROM notification_preferences WHERE organization_id = $1", db::Params(org.id)), 0);

  // Not in the app: the PI's notification is kept (in_app false) but never listed or streamed.
  auto ok = lims("PATCH", "/api/notification-preferences", pi,
                 R"({"preferences":[{"event":"recipe.submitted","in_app":false,"email":"daily"}]})");
  ASSERT_EQ(ok.status, 200u) << describe(ok);
  EXPECT_EQ(db_text("SELECT email FROM notification_preferences WHERE user_id = $1 AND event = 'recipe.submitted'",
                    db::Params(org.user("pi").id)),
            "daily");
  const std::string recipe = submitted_recipe(eng, "Quiet recipe");
  ASSERT_TRUE(eventually([&] { return notifications_of(org.user("pi").id, "recipe.submitted", recipe) == 1; }));
  EXPECT_EQ(db_text("SELECT in_app::text || ' ' || email FROM notifications WHERE user_id = $1 AND entity_id = $2",
                    db::Params(org.user("pi").id, recipe)),
            "false daily");
  EXPECT_EQ(list(pi).at("items").as_array().size(), 0u);
}

TEST(Notifications, TheStreamSendsNewNotificationsLiveAndResumesFromTheLastEventId) {
  auto org = make_org();
  const auto pi = login(org.user("pi")), eng = login(org.user("engineer"));
  std::string recipe;
  const auto got = read_stream(pi, "", "event: notification", 20, [&] { recipe = submitted_recipe(eng, "Live recipe"); });
  EXPECT_NE(got.find("text/event-stream"), std::string::npos) << got;
  ASSERT_NE(got.find("event: notification"), std::string::npos) << got;
  EXPECT_NE(got.find(recipe), std::string::npos) << got;
  const auto id_at = got.find("\nid: ");
  ASSERT_NE(id_at, std::string::npos) << got;
  const std::string seq = got.substr(id_at + 5, got.find('\n', id_at + 5) - id_at - 5);

  // Resumed from before it: the missed one comes at once; from it: nothing (a heartbeat at most).
  const auto replay = read_stream(pi, std::to_string(std::stoll(seq) - 1), "event: notification", 5);
  EXPECT_NE(replay.find(recipe), std::string::npos) << replay;
  const auto after = read_stream(pi, seq, "", 2);
  EXPECT_EQ(after.find("event: notification"), std::string::npos) << after;
  // A bad Last-Event-ID is a 400; no credentials, 401.
  EXPECT_NE(read_stream(pi, "yesterday", "", 2).find("400"), std::string::npos);
  EXPECT_EQ(lims("GET", "/api/notifications/stream").status, 401u);
}

TEST(Notifications, ACalibrationEnteringItsWindowIsNoticedOnceByTheLabStaff) {
  auto org = make_org();
  const auto eng = login(org.user("engineer"));
  auto inst = analysis("POST", "/api/v1/instruments", eng,
                       js(json::object{{"name", "Four-point probe"}, {"vendor", "Jandel"}, {"model", "RM3000"},
                                       {"serial_number", "N-" + crypto::uuid_v4().substr(0, 8)}}));
  ASSERT_EQ(inst.status, 201u) << describe(inst);
  const std::string instrument = str(inst.json(), "id");
  const auto at = [](int days) {
    return std::string(owner().exec("SELECT to_char((now() + make_interval(days => $1::int)) AT TIME ZONE 'UTC',"
                                    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                                    db::Params(days)).get(0, 0));
  };
  auto cal = analysis("POST", "/api/v1/calibrations", eng,
                      js(json::object{{"instrument_id", instrument}, {"certificate_number", "CAL-7"},
                                      {"calibrated_at", at(-300)}, {"expires_at", at(5)}}));
  ASSERT_EQ(cal.status, 201u) << describe(cal);
  const std::string calibration = str(cal.json(), "id");
  ASSERT_TRUE(eventually([&] { return notifications_of(org.user("engineer").id, "calibration.due", calibration) == 1; }, 30));
  for (const char* role : {"pi", "admin"})
    EXPECT_TRUE(eventually([&] { return notifications_of(org.user(role).id, "calibration.due", calibration) == 1; })) << role;
  for (const char* role : {"technician", "viewer"})
    EXPECT_EQ(notifications_of(org.user(role).id, "calibration.due", calibration), 0) << role;
  auto mine = list(eng);
  ASSERT_FALSE(mine.at("items").as_array().empty());
  EXPECT_NE(std::string(mine.at("items").as_array()[0].at("title").as_string()).find("Four-point probe"), std::string::npos);
  // Once: later rounds find the notice already sent.
  std::this_thread::sleep_for(std::chrono::seconds(8));
  EXPECT_EQ(notifications_of(org.user("engineer").id, "calibration.due", calibration), 1);
  EXPECT_EQ(count("SELECT count(*) FROM calibration_notices WHERE calibration_id = $1", db::Params(calibration)), 1);
}

TEST(Webhooks, BadTargetsAndEventsAreRefusedNamingTheField) {
  auto org = make_org();
  auto other = make_org();
  const auto admin = login(org.admin());
  auto create = [&](const std::string& url, json::array events) {
    return lims("POST", "/api/webhooks", admin, js(json::object{{"url", url}, {"events", events}}));
  };
  for (const char* url : {"ftp://example.com/hook", "https://user:secret@example.com/hook", "http://127.0.0.1:9/hook",
                          "http://10.1.2.3/hook", "http://[::1]/hook", "http://169.254.169.254/latest", "not a url"}) {
    auto r = create(url, {"recipe.submitted"});
    EXPECT_EQ(r.status, 422u) << url << " " << describe(r);
    EXPECT_TRUE(names(r, "url")) << url << " " << describe(r);
  }
  auto r = create("http://localhost:9/hook", {"recipe.submitted"});  // a name that resolves inside
  EXPECT_EQ(r.status, 422u) << describe(r);
  r = create("https://93.184.216.34/hook", {"recipe.submitted", "recipe.eaten"});  // (an address: no DNS needed)
  EXPECT_EQ(r.status, 422u) << describe(r);
  EXPECT_TRUE(names(r, "events[1]")) << describe(r);
  r = create("https://93.184.216.34/hook", {});
  EXPECT_EQ(r.status, 422u) << describe(r);
  EXPECT_EQ(count("SELECT count(*) FROM webhook_endpoints WHERE organization_id = $1", db::Params(org.id)), 0);
  // Admins only; another organization's endpoint is not found.
  EXPECT_EQ(lims("GET", "/api/webhooks", login(org.user("pi"))).status, 403u);
  owner().exec("INSERT INTO webhook_endpoints (organization_id, url, events, secret) VALUES ($1, 'https://example.org/x',"
               " '{recipe.submitted}', 'whsec_AAAA')",
               db::Params(other.id));
  const std::string theirs = db_text("SELECT id::text FROM webhook_endpoints WHERE organization_id = $1", db::Params(other.id));
  EXPECT_EQ(lims("GET", "/api/webhooks/" + theirs, admin).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/webhooks/" + theirs, admin, R"({"is_active":false})").status, 404u);
  EXPECT_EQ(lims("DELETE", "/api/webhooks/" + theirs, admin).status, 404u);
  EXPECT_EQ(lims("GET", "/api/webhooks/" + theirs + "/deliveries", admin).status, 404u);
  EXPECT_EQ(db_text("SELECT is_active::text FROM webhook_endpoints WHERE id = $1", db::Params(theirs)), "true");
}

// With private targets allowed (a receiver on loopback) and mail through a local sink.
class Delivery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sink_ = new SmtpSink();
    Config c = Harness::get().config();
    c.webhook_allow_private = true;
    c.smtp_url = sink_->url();
    c.mail_from = "SPECTRA-Lab <lims@example.org>";
    Harness::get().restart_server(c);
  }
  static void TearDownTestSuite() {
    Config c = Harness::get().config();
    c.webhook_allow_private = false;
    c.smtp_url.clear();
    Harness::get().restart_server(c);
    delete sink_;
  }
  static SmtpSink* sink_;
};
SmtpSink* Delivery::sink_ = nullptr;

TEST_F(Delivery, AWebhookIsSignedRetriedWithTheSameIdAndLogged) {
  auto org = make_org();
  const auto admin = login(org.admin()), eng = login(org.user("engineer"));
  Receiver receiver({500, 200});
  const std::string url = "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook";
  auto created = lims("POST", "/api/webhooks", admin,
                      js(json::object{{"url", url}, {"events", {"recipe.submitted"}}, {"description", "ERP"}}));
  ASSERT_EQ(created.status, 201u) << describe(created);
  const std::string endpoint = str(created.json(), "id"), secret = str(created.json(), "secret");
  EXPECT_EQ(secret.rfind("whsec_", 0), 0u);
  EXPECT_EQ(crypto::base64_decode(secret.substr(6)).value_or("").size(), 32u);
  // Shown once: never again, nor in the audit trail.
  const auto shown = lims("GET", "/api/webhooks/" + endpoint, admin).json();
  EXPECT_EQ(shown.as_object().count("secret"), 0u);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE entity_id = $1 AND after::text LIKE '%whsec_%'",
                  db::Params(endpoint)),
            0);

  const std::string recipe = submitted_recipe(eng, "Hooked recipe");
  // The first attempt is answered 500; the retry (within 30 s) 200.
  ASSERT_TRUE(eventually([&] { return receiver.got().size() >= 2; }, 40)) << receiver.got().size();
  const auto got = receiver.got();
  auto header = [](const std::string& head, const std::string& name) {
    const auto at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return std::string();
    const auto from = at + name.size() + 4;
    return head.substr(from, head.find("\r\n", from) - from);
  };
  const std::string id = header(got[0].head, "webhook-id");
  EXPECT_EQ(id.rfind("msg_", 0), 0u) << got[0].head;
  EXPECT_EQ(header(got[1].head, "webhook-id"), id);  // the same id on the retry
  EXPECT_EQ(got[0].body, got[1].body);
  for (const auto& g : got) {
    // v1,<base64 HMAC-SHA256 of id.timestamp.body>, keyed with the secret's bytes: checked here by hand.
    const std::string ts = header(g.head, "webhook-timestamp");
    const std::string expected =
        "v1," + crypto::base64_encode(crypto::hmac_sha256(*crypto::base64_decode(secret.substr(6)), id + "." + ts + "." + g.body));
    EXPECT_EQ(header(g.head, "webhook-signature"), expected);
    EXPECT_NEAR(std::stoll(ts), static_cast<long long>(std::time(nullptr)), 60);
  }
  const auto payload = json::parse(got[0].body).as_object();
  EXPECT_EQ(payload.at("type").as_string(), "recipe.submitted");
  EXPECT_EQ(payload.at("data").at("entity_id").as_string(), recipe);
  EXPECT_TRUE(payload.contains("timestamp"));

  // The log: delivered after two attempts, each with its status and time.
  ASSERT_TRUE(eventually([&] {
    return db_text("SELECT status FROM webhook_deliveries WHERE endpoint_id = $1", db::Params(endpoint)) == "delivered";
  }));
  auto log = lims("GET", "/api/webhooks/" + endpoint + "/deliveries", admin);
  ASSERT_EQ(log.status, 200u) << describe(log);
  const auto log_json = log.json();
  const auto& d = log_json.at("items").as_array().at(0).as_object();
  EXPECT_EQ(d.at("status").as_string(), "delivered");
  EXPECT_EQ(d.at("attempts").as_int64(), 2);
  const auto& attempts = d.at("attempts_log").as_array();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].at("status_code").as_int64(), 500);
  EXPECT_EQ(attempts[1].at("status_code").as_int64(), 200);
  EXPECT_TRUE(attempts[1].at("error").is_null());
  EXPECT_EQ(attempts[1].at("response_excerpt").as_string(), "ok");

  // Redelivered by hand: the same id again.
  auto again = lims("POST", "/api/webhooks/" + endpoint + "/deliveries/" + std::string(d.at("id").as_string()) + "/redeliver", admin);
  ASSERT_EQ(again.status, 202u) << describe(again);
  ASSERT_TRUE(eventually([&] { return receiver.got().size() >= 3; }));
  EXPECT_EQ(header(receiver.got()[2].head, "webhook-id"), id);

  // Switched off: nothing more goes out; deleted: gone from the list.
  auto off = lims("PATCH", "/api/webhooks/" + endpoint, admin, R"({"is_active":false})");
  ASSERT_EQ(off.status, 200u) << describe(off);
  EXPECT_FALSE(off.json().at("is_active").as_bool());
  submitted_recipe(eng, "Unheard recipe");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(receiver.got().size(), 3u);
  EXPECT_EQ(lims("DELETE", "/api/webhooks/" + endpoint, admin).status, 204u);
  EXPECT_EQ(lims("GET", "/api/webhooks/" + endpoint, admin).status, 404u);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action IN ('webhook.create', 'webhook.update',"
                  " 'webhook.delete', 'webhook.redeliver')",
                  db::Params(endpoint)),
            4);
}

TEST_F(Delivery, MailGoesImmediatelyOrAsADailyDigestAndWaitsWhileTheServerIsDown) {
  auto org = make_org();
  const auto pi = login(org.user("pi")), admin = login(org.admin()), eng = login(org.user("engineer"));
  ASSERT_EQ(lims("PATCH", "/api/notification-preferences", pi,
                 R"({"preferences":[{"event":"recipe.submitted","email":"immediate"}]})").status, 200u);
  ASSERT_EQ(lims("PATCH", "/api/notification-preferences", admin,
                 R"({"preferences":[{"event":"recipe.submitted","email":"daily"}]})").status, 200u);
  const std::string recipe = submitted_recipe(eng, "Mailed recipe");
  const std::string pi_email = org.user("pi").email;
  std::string message;
  ASSERT_TRUE(eventually([&] {
    for (const auto& m : sink_->messages())
      if (m.find(pi_email) != std::string::npos &&
          m.find("Subject: [SPECTRA-Lab] Recipe submitted: Mailed recipe") != std::string::npos)
        message = m;
    return !message.empty();
  }, 20));
  EXPECT_NE(message.find("From: SPECTRA-Lab <lims@example.org>"), std::string::npos) << message;
  EXPECT_NE(message.find("List-Unsubscribe: <"), std::string::npos) << message;
  EXPECT_NE(message.find("multipart/alternative"), std::string::npos) << message;
  EXPECT_NE(message.find("text/html"), std::string::npos) << message;
  EXPECT_EQ(db_text("SELECT status FROM mail_queue WHERE user_id = $1", db::Params(org.user("pi").id)), "sent");

  // The admin's waits for the day's digest: one mail from 07:00 in the organization's time zone (a
  // zone where it is past 07:00 now).
  EXPECT_EQ(db_text("SELECT email FROM notifications WHERE user_id = $1 AND entity_id = $2",
                    db::Params(org.admin().id, recipe)),
            "daily");
  const auto hour = std::stoi(db_text("SELECT extract(hour FROM now() AT TIME ZONE 'UTC')::int::text"));
  const int shift = hour >= 8 ? 0 : 8 - hour;  // Etc/GMT-N is N hours ahead of UTC
  const std::string zone = shift == 0 ? "UTC" : "Etc/GMT-" + std::to_string(shift);
  auto bad_zone = lims("PATCH", "/api/organization", admin, R"({"settings":{"time_zone":"Mars/Olympus"}})");
  EXPECT_EQ(bad_zone.status, 422u) << describe(bad_zone);
  EXPECT_TRUE(names(bad_zone, "settings.time_zone")) << describe(bad_zone);
  auto set_zone = lims("PATCH", "/api/organization", admin, js(json::object{{"settings", json::object{{"time_zone", zone}}}}));
  ASSERT_EQ(set_zone.status, 200u) << describe(set_zone);
  // The digest of today went out (empty) when the organization was first seen: the next day comes.
  owner().exec("INSERT INTO outbox_cursors (organization_id, id, last_day) VALUES ($1, 'digest', $2::date)"
               " ON CONFLICT (organization_id, id) DO UPDATE SET last_day = EXCLUDED.last_day",
               db::Params(org.id, db_text("SELECT (current_date - 2)::text")));
  ASSERT_TRUE(eventually([&] {
    return db_text("SELECT coalesce(max(status), '') FROM mail_queue WHERE user_id = $1 AND kind = 'digest'",
                   db::Params(org.admin().id)) == "sent";
  }, 30));
  EXPECT_EQ(db_text("SELECT email FROM notifications WHERE user_id = $1 AND entity_id = $2",
                    db::Params(org.admin().id, recipe)),
            "digested");

  // The SMTP server goes away: the mail stays queued, its attempts and error recorded; nothing is lost.
  Config down = Harness::get().config();
  down.webhook_allow_private = true;
  down.smtp_url = "smtp://127.0.0.1:1";
  Harness::get().restart_server(down);
  submitted_recipe(eng, "Mail while down");
  const std::string waiting_q =
      "SELECT count(*) FROM mail_queue WHERE user_id = $1 AND subject LIKE '%Mail while down' AND status = 'pending'"
      " AND attempts >= 1 AND last_error IS NOT NULL";
  ASSERT_TRUE(eventually([&] { return count(waiting_q, db::Params(org.user("pi").id)) == 1; }, 20));
  // Back up: the next attempt (brought forward here rather than waited for) sends it.
  Config up = down;
  up.smtp_url = sink_->url();
  Harness::get().restart_server(up);
  owner().exec("UPDATE mail_queue SET next_attempt_at = now() WHERE user_id = $1 AND status = 'pending'",
               db::Params(org.user("pi").id));
  EXPECT_TRUE(eventually([&] {
    for (const auto& m : sink_->messages())
      if (m.find("Subject: [SPECTRA-Lab] Recipe submitted: Mail while down") != std::string::npos) return true;
    return false;
  }, 20));
}
