#include "support/api.hpp"

#include <algorithm>
#include <latch>
#include <stdexcept>
#include <thread>

namespace spectra::test {

std::string str(const boost::json::value& v, const char* k) { return std::string(v.at(k).as_string()); }

std::string js(const boost::json::object& o) { return boost::json::serialize(o); }

std::string describe(const HttpResponse& r) { return std::to_string(r.status) + " " + r.body.substr(0, 2000); }

// The fields a problem answer names (empty when the body has none).
std::vector<std::string> error_fields(const HttpResponse& r) {
  std::vector<std::string> out;
  try {
    auto b = r.json();
    if (!b.is_object() || !b.as_object().contains("errors")) return out;
    for (const auto& e : b.at("errors").as_array()) out.emplace_back(e.at("field").as_string());
  } catch (const std::exception&) {
  }
  return out;
}

bool names(const HttpResponse& r, const std::string& field) {
  auto f = error_fields(r);
  return std::find(f.begin(), f.end(), field) != f.end();
}

// Every item of a list, following next_cursor.
std::vector<boost::json::value> all_items(const std::string& path, const std::string& token, int limit) {
  std::vector<boost::json::value> out;
  std::string cursor;
  for (int pages = 0; pages < 100; ++pages) {
    const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
    auto r = lims("GET", path + sep + "limit=" + std::to_string(limit) + (cursor.empty() ? "" : "&cursor=" + cursor), token);
    if (r.status != 200) throw std::runtime_error("GET " + path + " failed: " + describe(r));
    auto b = r.json();
    for (const auto& i : b.at("items").as_array()) out.push_back(i);
    if (b.at("next_cursor").is_null()) break;
    cursor = std::string(b.at("next_cursor").as_string());
  }
  return out;
}

std::set<std::string> ids_of(const std::vector<boost::json::value>& items) {
  std::set<std::string> s;
  for (const auto& i : items) s.insert(str(i, "id"));
  return s;
}

// A second user of a role, made by the organization's admin.
TestUser add_user(const TestOrg& org, const std::string& role, const std::string& tag) {
  TestUser u;
  u.email = tag + "-" + org.slug + "@example.test";
  u.password = "a-long-and-fine-password";
  u.role = role;
  auto r = lims("POST", "/api/users", login(org.admin()),
                js(boost::json::object{{"email", u.email}, {"full_name", "Second " + role}, {"role", role}, {"password", u.password}}));
  if (r.status != 201) throw std::runtime_error("creating a user failed: " + describe(r));
  u.id = str(r.json(), "id");
  return u;
}

std::string api_key(const TestOrg& org, const std::vector<std::string>& scopes, const std::string& role) {
  boost::json::array s(scopes.begin(), scopes.end());
  auto r = lims("POST", "/api/api-keys", login(org.admin()), js(boost::json::object{{"name", "robot " + role}, {"scopes", s}, {"role", role}}));
  if (r.status != 201) throw std::runtime_error("creating an API key failed: " + describe(r));
  return str(r.json(), "key");
}

std::string db_text(const std::string& sql, const db::Params& params) {
  auto r = owner().exec(sql, params);
  return r.empty() ? std::string("<no row>") : std::string(r.get(0, 0));
}

std::vector<HttpResponse> concurrently(const std::vector<std::function<HttpResponse()>>& calls) {
  std::vector<HttpResponse> answers(calls.size());
  std::latch start(static_cast<std::ptrdiff_t>(calls.size()));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < calls.size(); ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        answers[i] = calls[i]();
      } catch (const std::exception& e) {
        answers[i].status = 0;
        answers[i].body = e.what();
      }
    });
  for (auto& t : threads) t.join();
  return answers;
}

}  // namespace spectra::test
