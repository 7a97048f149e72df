// `spectra agent`: the folder loop (every 500 ms: look at the folder, hash the files that have settled,
// send them in the order they were written) and its requests to the Analysis API over a small blocking
// HTTP(S) client. The decisions it makes are in agent/journal.hpp, unit-tested.
#include "agent/agent.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "agent/journal.hpp"
#include "platform/crypto.hpp"

namespace spectra::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Polling, not inotify: the folder is often a network share, where inotify sees nothing.
constexpr auto poll_interval = 500ms;
constexpr auto request_timeout = 30s;
constexpr auto upload_timeout = 300s;
// After SIGINT or SIGTERM a request in flight may finish for this long, then it is abandoned: the
// journal says `sending`, the next start sends the file again and the server answers 200 (same bytes).
constexpr auto stop_grace = 5s;
// A key the API refuses is retried this slowly: only the operator can fix it.
constexpr auto bad_key_wait = 60s;
constexpr std::size_t answer_limit = 8 << 20;

std::atomic<int> stop_signal{0};

void on_stop_signal(int sig) { stop_signal.store(sig); }

bool stopping() { return stop_signal.load() != 0; }

// SIGINT and SIGTERM only set a flag: the loop and the request in flight look at it, and the journal is
// never left with half a line.
class StopSignals {
 public:
  StopSignals() {
    stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// Sleeps until `t`, waking early for a stop signal.
void pause_until(Clock::time_point t) {
  while (!stopping() && Clock::now() < t)
    std::this_thread::sleep_for(std::min<Clock::duration>(50ms, t - Clock::now()));
}

std::string seconds_text(Clock::duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

std::string encoded(std::string_view s) { return boost::urls::encode(s, boost::urls::unreserved_chars); }

// The Analysis API's address, as --api gives it.
struct Api {
  bool tls = false;
  std::string host;  // to resolve, for SNI and to verify the certificate against ("::1", not "[::1]")
  std::string port;
  std::string host_header;  // host[:port] as written
  std::string base;         // the URL's path without its trailing '/': the API may sit below a prefix
};

std::optional<Api> parse_api(const std::string& url) {
  const auto u = boost::urls::parse_uri(url);
  if (!u || (u->scheme() != "http" && u->scheme() != "https") || u->host_address().empty() || u->has_query() ||
      u->has_fragment() || u->has_userinfo())
    return std::nullopt;
  Api api;
  api.tls = u->scheme() == "https";
  api.host = u->host_address();
  api.port = u->has_port() ? std::string(u->port()) : (api.tls ? "443" : "80");
  api.host_header = u->encoded_host_and_port();
  api.base = u->encoded_path();
  while (!api.base.empty() && api.base.back() == '/') api.base.pop_back();
  return api;
}

// The API could not be reached or gave no answer: no connection, a timeout, a TLS failure, a reset.
struct Unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A stop signal came and the request did not finish within stop_grace.
struct Abandoned : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Answer {
  unsigned status = 0;
  std::string body;
  json::value json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value() : v;
  }
};

// One request per connection, each step under the stream's deadline. The steps are asynchronous on a
// private io_context, because a synchronous Beast call ignores tcp_stream's expiry; the caller blocks
// all the same, and a stop signal can end the wait.
class Client {
 public:
  Client(Api api, std::string key) : api_(std::move(api)), key_(std::move(key)), tls_(asio::ssl::context::tls_client) {
    tls_.set_default_verify_paths();
    tls_.set_verify_mode(asio::ssl::verify_peer);
  }

  Answer get(const std::string& path) {
    http::request<http::string_body> req{http::verb::get, api_.base + path, 11};
    req.set(http::field::accept, "application/json");
    return exchange(std::move(req), request_timeout);
  }

  Answer post(const std::string& path, const std::string& content_type, std::string body) {
    http::request<http::string_body> req{http::verb::post, api_.base + path, 11};
    req.set(http::field::accept, "application/json");
    req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    return exchange(std::move(req), upload_timeout);
  }

 private:
  template <class Stream>
  static asio::awaitable<void> write_then_read(Stream& stream, http::request<http::string_body>& req,
                                               http::response_parser<http::string_body>& parser) {
    beast::flat_buffer buffer;
    boost::system::error_code write_failed;
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, write_failed));
    // A server that refuses a body (413) may answer and close before it has read all of it: its answer
    // is still worth reading.
    boost::system::error_code read_failed;
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, read_failed));
    if (read_failed) throw boost::system::system_error(write_failed ? write_failed : read_failed);
  }

  Answer exchange(http::request<http::string_body> req, std::chrono::seconds timeout) {
    req.set(http::field::host, api_.host_header);
    req.set(http::field::user_agent, "spectra-agent/" SPECTRA_VERSION);
    req.set("X-API-Key", key_);
    req.keep_alive(false);
    req.prepare_payload();

    // Declared before the io_context, which may end with the steps still pending (abandoned).
    Answer answer;
    std::exception_ptr failure;
    bool finished = false;
    asio::io_context ioc;
    auto steps = [&]() -> asio::awaitable<void> {
      asio::ip::tcp::resolver resolver(ioc);
      const auto endpoints = co_await resolver.async_resolve(api_.host, api_.port, asio::use_awaitable);
      http::response_parser<http::string_body> parser;
      parser.body_limit(answer_limit);
      if (api_.tls) {
        beast::ssl_stream<beast::tcp_stream> stream(ioc, tls_);
        boost::system::error_code not_ip;
        asio::ip::make_address(api_.host, not_ip);
        // SNI names hosts, never addresses (RFC 6066).
        if (not_ip && !SSL_set_tlsext_host_name(stream.native_handle(), api_.host.c_str()))
          throw std::runtime_error("cannot set the TLS server name");
        stream.set_verify_callback(asio::ssl::host_name_verification(api_.host));
        beast::get_lowest_layer(stream).expires_after(timeout);
        co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
        co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
        co_await write_then_read(stream, req, parser);
      } else {
        beast::tcp_stream stream(ioc);
        stream.expires_after(timeout);
        co_await stream.async_connect(endpoints, asio::use_awaitable);
        co_await write_then_read(stream, req, parser);
      }
      answer.status = parser.get().result_int();
      answer.body = std::move(parser.get().body());
    };
    asio::co_spawn(ioc, steps, [&](std::exception_ptr e) {
      failure = e;
      finished = true;
    });
    // The resolver has no deadline of its own: the whole exchange has one.
    const auto deadline = Clock::now() + timeout + 5s;
    std::optional<Clock::time_point> abandon_at;
    while (!finished) {
      ioc.run_for(100ms);
      if (finished) break;
      if (stopping() && !abandon_at) abandon_at = Clock::now() + stop_grace;
      // Leaving destroys the io_context, and with it the connection and the steps still pending.
      if (abandon_at && Clock::now() >= *abandon_at) throw Abandoned("stopped while a request was in flight");
      if (Clock::now() >= deadline) throw Unreachable("no answer within " + std::to_string(timeout.count()) + " s");
    }
    if (failure) {
      try {
        std::rethrow_exception(failure);
      } catch (const boost::system::system_error& e) {
        throw Unreachable(e.code().message());
      } catch (const std::exception& e) {
        throw Unreachable(e.what());
      }
    }
    return answer;
  }

  Api api_;
  std::string key_;
  asio::ssl::context tls_;
};

// multipart/form-data as a browser sends a form: the profile's id, then the file with its name and type.
std::string form_body(const std::string& boundary, std::string_view profile_id, std::string_view filename,
                      std::string_view content_type, std::string_view bytes) {
  std::string quoted;
  for (const char c : filename) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += (c == '\r' || c == '\n') ? ' ' : c;
  }
  std::string body;
  body.reserve(bytes.size() + 512);
  body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"profile_id\"\r\n\r\n";
  body += profile_id;
  body += "\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + quoted + "\"\r\n";
  body += "Content-Type: ";
  body += content_type;
  body += "\r\n\r\n";
  body += bytes;
  body += "\r\n--" + boundary + "--\r\n";
  return body;
}

// What a problem answer says, for the log: its title, detail and each field's message.
std::string problem_text(const Answer& a) {
  const auto v = a.json();
  if (!v.is_object()) return a.body.substr(0, 300);
  const auto& o = v.as_object();
  std::string out;
  for (const char* key : {"title", "detail"})
    if (const auto* s = o.if_contains(key); s && s->is_string()) {
      if (!out.empty()) out += ": ";
      out += s->as_string();
    }
  if (const auto* errors = o.if_contains("errors"); errors && errors->is_array())
    for (const auto& e : errors->as_array()) {
      if (!e.is_object()) continue;
      const auto* field = e.as_object().if_contains("field");
      const auto* message = e.as_object().if_contains("message");
      out += "; ";
      if (field && field->is_string()) out += std::string(field->as_string()) + ": ";
      if (message && message->is_string()) out += message->as_string();
    }
  return out.empty() ? a.body.substr(0, 300) : out;
}

std::optional<std::string> read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return bytes;
}

std::string sha256_hex(std::string_view bytes) { return crypto::to_hex(crypto::sha256(bytes)); }

// A file in the folder, as the loop follows it.
struct Tracked {
  Sighting seen;
  // Hashed at this size and mtime (and queued, or known to the journal): not looked at again until
  // either changes.
  bool settled = false;
  Clock::time_point look_again{};  // after a file could not be read
};

// A settled file waiting to be sent.
struct Pending {
  FileKey file;
  std::int64_t mtime_ns = 0;
  int failures = 0;  // of its own (no run yet, the run not running); an API that is away counts apart
  Clock::time_point not_before{};
  bool journaled = false;  // `sending` is written once per file and start, not at every retry
};

enum class Check { ok, later, fatal };

class Agent {
 public:
  Agent(const Options& o, Client& client, JournalFile& journal)
      : o_(o),
        client_(client),
        journal_(journal),
        folder_(o.watch),
        stable_for_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.stable_seconds))),
        random_(std::random_device{}()) {}

  int run() {
    if (o_.once)
      for (const auto& [name, size, mtime] : listing()) once_names_.insert(name);
    while (!stopping()) {
      const auto started = Clock::now();
      look();
      const auto target = check_target();
      if (target == Check::fatal) return 2;
      if (target == Check::ok) send_due();
      if (o_.once && once_finished()) break;
      pause_until(started + poll_interval);
    }
    if (stopping()) spdlog::info("stopping (signal {}); the journal is up to date", stop_signal.load());
    return o_.once && refused_any_ ? 1 : 0;
  }

 private:
  struct Listed {
    std::string name;
    std::uint64_t size;
    std::int64_t mtime_ns;
  };

  // Regular files directly in the folder, dot-files (the journal's folder among them) left out.
  std::vector<Listed> listing() {
    std::vector<Listed> out;
    std::error_code ec;
    for (fs::directory_iterator it(folder_, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.empty() || name.front() == '.') continue;
      struct stat st {};
      if (::stat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back({name, static_cast<std::uint64_t>(st.st_size),
                     std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec});
    }
    if (ec && !folder_error_) spdlog::error("cannot read the folder {}: {}", folder_.string(), ec.message());
    folder_error_ = static_cast<bool>(ec);
    return out;
  }

  void look() {
    const auto now = Clock::now();
    std::set<std::string> present;
    for (const auto& [name, size, mtime] : listing()) {
      present.insert(name);
      const auto it = tracked_.find(name);
      // What was there at start is counted once; the journal tells which of it is new.
      if (it == tracked_.end() && looked_) spdlog::info("found {} ({} bytes)", name, size);
      std::optional<Sighting> before;
      if (it != tracked_.end()) before = it->second.seen;
      auto& t = tracked_[name];
      t.seen = observe(before, size, mtime, now);
      if (t.seen.since == now) t.settled = false;  // new, or changed since it was last seen
      if (!t.settled && now >= t.look_again && is_ready(t.seen, now, stable_for_)) settle(name, t);
    }
    for (auto it = tracked_.begin(); it != tracked_.end();)
      it = present.contains(it->first) ? std::next(it) : tracked_.erase(it);
    if (!looked_) spdlog::info("{} files in the folder", present.size());
    looked_ = true;
  }

  // A file that has stopped changing: hashed, and queued unless the journal already has its outcome.
  void settle(const std::string& name, Tracked& t) {
    const auto bytes = read_whole(folder_ / name);
    if (!bytes) {
      spdlog::warn("cannot read {}; trying again in 10 s", name);
      t.look_again = Clock::now() + 10s;
      return;
    }
    if (bytes->size() != t.seen.size) return;  // changed under us: the next look sees it
    t.settled = true;
    FileKey key{name, t.seen.size, sha256_hex(*bytes)};
    std::erase_if(pending_, [&](const Pending& p) { return p.file.name == name; });
    switch (journal_.state().outcome(key)) {
      case Outcome::done: spdlog::debug("{} was sent before (journal)", name); return;
      case Outcome::refused: spdlog::debug("{} was refused before (journal)", name); return;
      case Outcome::unfinished: spdlog::info("{} was being sent when the agent stopped: sending it again", name); break;
      case Outcome::unknown: break;
    }
    if (o_.run_from_barcode && !barcode_of(name)) {
      refuse(key, 0, json::serialize(json::object{{"detail", "the file name carries no barcode"}}),
             "its name carries no barcode (the part before the first '_' or space, or the name without "
             "its extension)");
      return;
    }
    pending_.push_back({key, t.seen.mtime_ns, 0, {}, false});
    // Oldest first, as the instrument wrote them.
    std::sort(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) {
      return std::tie(a.mtime_ns, a.file.name) < std::tie(b.mtime_ns, b.file.name);
    });
  }

  bool once_finished() const {
    for (const auto& name : once_names_) {
      const auto it = tracked_.find(name);
      // Gone, or empty (created, not written yet: the next run takes it).
      if (it == tracked_.end() || it->second.seen.size == 0) continue;
      if (!it->second.settled) return false;
      if (std::any_of(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.file.name == name; }))
        return false;
    }
    return true;
  }

  // Before the first file: the profile (and with --run, the run) exist, so that a mistyped id stops the
  // agent with a message instead of refusing every file for good.
  Check check_target() {
    if (checked_) return Check::ok;
    if (Clock::now() < api_wait_until_ || pending_.empty()) return Check::later;
    try {
      const auto profile = client_.get("/api/v1/import-profiles/" + encoded(o_.profile_id));
      if (const auto c = check_answer(profile, "the import profile " + o_.profile_id, o_.run_from_barcode)) return *c;
      if (o_.run_from_barcode) {
        const auto v = profile.json();
        const auto* inst = v.is_object() ? v.as_object().if_contains("instrument_id") : nullptr;
        if (!inst || !inst->is_string()) {
          spdlog::error("the import profile {} names no instrument_id: {}", o_.profile_id, profile.body.substr(0, 300));
          return Check::fatal;
        }
        instrument_id_ = inst->as_string();
      } else {
        const auto run = client_.get("/api/v1/runs/" + encoded(o_.run_id));
        if (const auto c = check_answer(run, "the run " + o_.run_id, false)) return *c;
        const auto v = run.json();
        const auto* status = v.is_object() ? v.as_object().if_contains("status") : nullptr;
        if (status && status->is_string() && status->as_string() != "RUNNING" && status->as_string() != "COMPLETED")
          spdlog::warn("the run {} is {}: files wait until it is RUNNING", o_.run_id, std::string(status->as_string()));
      }
    } catch (const Unreachable& e) {
      api_away(e.what());
      return Check::later;
    }
    checked_ = true;
    return Check::ok;
  }

  // nullopt when the check may go on; `needed`: a 403 stops it (else the key may just not read that).
  std::optional<Check> check_answer(const Answer& a, const std::string& what, bool needed) {
    if (a.status == 200) {
      api_failures_ = 0;
      return std::nullopt;
    }
    if (a.status == 404 || (a.status >= 400 && a.status < 500 && a.status != 401 && a.status != 403 &&
                            a.status != 408 && a.status != 429)) {
      spdlog::error("{} cannot be used ({}): {}", what, a.status, problem_text(a));
      return Check::fatal;
    }
    if (a.status == 403 && !needed) {
      spdlog::warn("the API key may not read {} (403), so it is not checked", what);
      api_failures_ = 0;
      return std::nullopt;
    }
    if (a.status == 401 || a.status == 403) {
      bad_key(a);
      return Check::later;
    }
    api_away("HTTP " + std::to_string(a.status));
    return Check::later;
  }

  void send_due() {
    // A copy of the names in order: sending changes pending_.
    std::vector<std::string> order;
    for (const auto& p : pending_) order.push_back(p.file.name);
    for (const auto& name : order) {
      if (stopping() || Clock::now() < api_wait_until_) return;
      const auto it =
          std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.file.name == name; });
      if (it == pending_.end() || Clock::now() < it->not_before) continue;
      if (send(*it))
        pending_.erase(
            std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.file.name == name; }));
    }
  }

  // One attempt; true when the file has its outcome (or is no longer there to send).
  bool send(Pending& p) {
    const auto& name = p.file.name;
    const auto bytes = read_whole(folder_ / name);
    if (!bytes || bytes->size() != p.file.size || sha256_hex(*bytes) != p.file.sha256) {
      spdlog::warn("{} changed or went away before it was sent; waiting until it is stable again", name);
      if (const auto t = tracked_.find(name); t != tracked_.end()) t->second.settled = false;
      return true;
    }
    try {
      std::string run = o_.run_id;
      if (o_.run_from_barcode) {
        auto found = run_for(p);
        if (!found) return false;
        run = std::move(*found);
      }
      if (!p.journaled) {
        journal_.append(
            {utc_time(std::chrono::system_clock::now()), Event::sending, name, p.file.size, p.file.sha256, 0, {}});
        p.journaled = true;
      }
      const auto type = content_type_of(name);
      std::string boundary;
      do boundary = "spectra-agent-" + crypto::to_hex(crypto::random_bytes(12));
      while (bytes->find(boundary) != std::string::npos);
      spdlog::info("sending {} ({} bytes, sha256 {}) to run {}", name, p.file.size, p.file.sha256.substr(0, 12), run);
      const auto a =
          client_.post("/api/v1/runs/" + encoded(run) + "/import", "multipart/form-data; boundary=" + boundary,
                       form_body(boundary, o_.profile_id, name, type, *bytes));
      return judge(p, a);
    } catch (const Unreachable& e) {
      api_away(e.what());
      return false;
    }
  }

  // The newest RUNNING run of the sample the file's name carries, on the profile's instrument.
  std::optional<std::string> run_for(Pending& p) {
    const auto barcode = *barcode_of(p.file.name);
    const auto a = client_.get("/api/v1/runs?status=RUNNING&instrument_id=" + encoded(instrument_id_) +
                               "&barcode=" + encoded(barcode) + "&limit=1");
    if (a.status == 200) {
      api_failures_ = 0;
      const auto v = a.json();
      const auto* items = v.is_object() ? v.as_object().if_contains("items") : nullptr;
      if (items && items->is_array() && !items->as_array().empty() && items->as_array()[0].is_object())
        if (const auto* id = items->as_array()[0].as_object().if_contains("id"); id && id->is_string())
          return std::string(id->as_string());
      retry_later(p, "no RUNNING run of the sample " + barcode + " on the profile's instrument yet");
    } else if (a.status == 401 || a.status == 403) {
      bad_key(a);
    } else if (a.status >= 500) {
      api_away("HTTP " + std::to_string(a.status));
    } else {
      retry_later(
          p, "looking up the run of " + barcode + " answered " + std::to_string(a.status) + ": " + problem_text(a));
    }
    return std::nullopt;
  }

  bool judge(Pending& p, const Answer& a) {
    const auto& name = p.file.name;
    switch (judge_import(a.status, o_.run_from_barcode)) {
      case Verdict::done: {
        api_failures_ = 0;
        journal_.append({utc_time(std::chrono::system_clock::now()), Event::done, name, p.file.size, p.file.sha256,
                         a.status, json_line(a.body)});
        const auto v = a.json();
        const auto* o = v.is_object() ? &v.as_object() : nullptr;
        const auto field = [&](const char* k) {
          const auto* f = o ? o->if_contains(k) : nullptr;
          return !f ? std::string("?") : f->is_string() ? std::string(f->as_string()) : json::serialize(*f);
        };
        if (a.status == 201)
          spdlog::info("{} imported: {} results (import {})", name, field("results"), field("import_id"));
        else
          spdlog::info("{} was imported before (import {}): nothing added", name, field("import_id"));
        return true;
      }
      case Verdict::refused:
        api_failures_ = 0;
        refuse(p.file, a.status, json_line(a.body), std::to_string(a.status) + " " + problem_text(a));
        return true;
      case Verdict::retry:
        api_failures_ = 0;
        retry_later(p, "the API answered " + std::to_string(a.status) + ": " + problem_text(a));
        return false;
      case Verdict::bad_key: bad_key(a); return false;
      case Verdict::api_away: api_away("HTTP " + std::to_string(a.status) + ": " + problem_text(a)); return false;
    }
    return false;
  }

  void refuse(const FileKey& file, unsigned status, const std::string& answer, const std::string& why) {
    journal_.append({utc_time(std::chrono::system_clock::now()), Event::refused, file.name, file.size, file.sha256,
                     status, answer});
    spdlog::error("{} refused, it will not be sent again: {}", file.name, why);
    refused_any_ = true;
  }

  double jitter() { return std::uniform_real_distribution<double>(0.0, 1.0)(random_); }

  void retry_later(Pending& p, const std::string& why) {
    const auto delay = backoff_delay(++p.failures, jitter());
    p.not_before = Clock::now() + delay;
    spdlog::warn("{}: {}; trying again in {}", p.file.name, why, seconds_text(delay));
  }

  void api_away(const std::string& why) {
    const auto delay = backoff_delay(++api_failures_, jitter());
    api_wait_until_ = Clock::now() + delay;
    spdlog::warn("the API is away ({}); trying again in {}", why, seconds_text(delay));
  }

  void bad_key(const Answer& a) {
    api_wait_until_ = Clock::now() + bad_key_wait;
    spdlog::error(
        "THE API REFUSES THE KEY ({}: {}): check SPECTRA_API_KEY and its scopes (results:write, runs:read); "
        "trying again in {}",
        a.status, problem_text(a), seconds_text(bad_key_wait));
  }

  const Options& o_;
  Client& client_;
  JournalFile& journal_;
  const fs::path folder_;
  const Clock::duration stable_for_;
  std::mt19937_64 random_;
  std::map<std::string, Tracked> tracked_;
  std::vector<Pending> pending_;
  std::set<std::string> once_names_;
  bool folder_error_ = false;
  bool looked_ = false;
  bool checked_ = false;
  bool refused_any_ = false;
  std::string instrument_id_;
  int api_failures_ = 0;
  Clock::time_point api_wait_until_{};
};

}  // namespace

int run(const Options& o) {
  if (o.api_key.empty()) {
    spdlog::error("set SPECTRA_API_KEY to an API key of the organization (scopes results:write and runs:read)");
    return 2;
  }
  const auto api = parse_api(o.api);
  if (!api) {
    spdlog::error("--api must be an http:// or https:// URL such as https://lims.example.org:8001, got '{}'", o.api);
    return 2;
  }
  if (o.run_from_barcode == !o.run_id.empty()) {
    spdlog::error("give either --run RUN_ID or --run-from-barcode");
    return 2;
  }
  if (!(o.stable_seconds >= 0)) {
    spdlog::error("--stable-seconds must not be negative");
    return 2;
  }
  std::error_code ec;
  if (!fs::is_directory(o.watch, ec)) {
    spdlog::error("--watch {} is not a folder", o.watch);
    return 2;
  }
  StopSignals signals;
  try {
    JournalFile journal((fs::path(o.watch) / ".spectra-agent" / "journal").string());
    if (journal.torn_bytes())
      spdlog::warn("the journal's last line was cut short ({} bytes, the agent was killed while writing it): removed",
                   journal.torn_bytes());
    if (journal.state().skipped())
      spdlog::warn("the journal has {} lines that are not entries: ignored", journal.state().skipped());
    if (!journal.locked())
      spdlog::warn("the journal cannot be locked on this file system: make sure one agent only watches {}", o.watch);
    spdlog::info("watching {} ({} files in the journal), sending to {} {}", o.watch, journal.state().files(), o.api,
                 o.run_from_barcode ? "into the run of each file's barcode" : "into the run " + o.run_id);
    Client client(*api, o.api_key);
    Agent agent(o, client, journal);
    return agent.run();
  } catch (const Abandoned&) {
    spdlog::info(
        "stopped with a request in flight (the journal says which file was being sent: it is sent again at "
        "the next start)");
    return 0;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}

}  // namespace spectra::agent
