#include "server/runtime.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "audit/audit.hpp"
#include "auth/external_keys.hpp"
#include "auth/throttle.hpp"
#include "auth/tokens.hpp"
#include "platform/blocking.hpp"
#include "platform/content_store.hpp"
#include "platform/db/migrations.hpp"
#include "platform/db/blocking_connection.hpp"
#include "platform/http/server.hpp"
#include "kit/api.hpp"
#include "lims/notifications/dispatcher.hpp"
#include "platform/db/listener.hpp"
#include "platform/metrics.hpp"
#include "platform/process.hpp"
#include "server/route_tables.hpp"

namespace asio = boost::asio;

namespace spectra {
namespace {

// The web app's policy: its own scripts and styles only (no inline script, no eval), data and blob
// images (charts, labels), the Analysis API for its calls, no framing, no plugins, no base rewriting.
std::string content_security_policy(const Config& cfg) {
  std::string connect = "'self'";
  for (const auto& origin : cfg.analysis_origins()) connect += " " + origin;
  return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self';"
         " connect-src " + connect + "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

// The built app, plus /config.json: the Analysis API's port, which the app calls on its page's own
// scheme and host name (the origins CORS_ORIGINS allows by default). No app, no /config.json.
std::shared_ptr<const http::StaticSite> web_app(const Config& cfg) {
  auto site = std::make_shared<http::StaticSite>(cfg.web_root);
  if (site->empty()) return site;
  boost::json::object c{{"analysis_port", cfg.analysis_port}};
  site->put("/config.json", boost::json::serialize(c), "application/json");
  return site;
}

std::filesystem::path find_pg_script() {
  if (const char* home = std::getenv("SPECTRA_HOME")) return std::filesystem::path(home) / "scripts" / "pg";
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  for (auto dir = exe.parent_path(); !ec && !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
    if (std::filesystem::exists(dir / "scripts" / "pg")) return dir / "scripts" / "pg";
  throw std::runtime_error(
      "DATABASE_URL is unset and the private database script (scripts/pg) was not found: set DATABASE_URL or "
      "SPECTRA_HOME");
}

// Raises the open-file limit to its hard limit, and fits the connection limit under it: a server that
// runs out of descriptors cannot even accept the connection that would be refused politely.
void fit_file_limit(Config& cfg, int listeners) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || listeners == 0) return;
  if (rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur == RLIM_INFINITY) return;
  // Database connections, the sequencer's, files, listeners and a margin.
  const rlim_t reserve = static_cast<rlim_t>(cfg.db_pool_size + cfg.db_auth_pool_size) + 64;
  const rlim_t per_listener = rl.rlim_cur > reserve ? (rl.rlim_cur - reserve) / static_cast<rlim_t>(listeners) : 1;
  if (static_cast<rlim_t>(cfg.max_connections) > per_listener) {
    spdlog::warn("MAX_CONNECTIONS {} does not fit the open-file limit {}: serving at most {} connections per port",
                 cfg.max_connections, rl.rlim_cur, per_listener);
    cfg.max_connections = static_cast<int>(std::max<rlim_t>(1, per_listener));
  }
}

// Row-level security is the second lock behind every query's organization filter; a role that
// bypasses it (superuser, BYPASSRLS, or the tables' owner, whose policy admits every row) would
// silently turn it off.
void refuse_privileged_role(db::BlockingConnection& c) {
  auto r = c.exec(
      "SELECT current_user, r.rolsuper, r.rolbypassrls,"
      " EXISTS (SELECT 1 FROM pg_class t WHERE t.oid = 'public.audit_events'::regclass"
      "          AND pg_has_role(current_user, t.relowner, 'MEMBER'))"
      " FROM pg_roles r WHERE r.rolname = current_user");
  const std::string role(r.get(0, 0));
  const char* why = r.get_bool(0, 1) ? "is a superuser"
                    : r.get_bool(0, 2) ? "has BYPASSRLS"
                    : r.get_bool(0, 3) ? "owns the tables (or is a member of their owner)"
                                       : nullptr;
  if (why)
    throw std::runtime_error("the application's database role " + role + " " + why +
                             ", so row-level security would not apply: serve as spectra_app (DATABASE_APP_URL or "
                             "DATABASE_APP_USER)");
}

struct Parts {
  db::Pool *pool, *auth_pool;
  BlockingPool *blocking, *passwords;
  audit::Sequencer* sequencer;
  auth::LoginThrottle* throttle;
  notifications::Dispatcher* dispatcher;
  HttpServer *lims_server, *analysis_server;
};

// What the server's parts count themselves, read at each scrape.
void collect(metrics::Writer& w, const Parts& p) {
  w.family("spectra_build_info", "gauge", "The running build (always 1)");
  w.sample("spectra_build_info", {{"version", SPECTRA_VERSION}}, 1);
  w.family("spectra_db_pool_connections", "gauge", "Database connections by pool and state");
  w.family("spectra_db_pool_waiting", "gauge", "Requests waiting for a database connection now");
  for (const auto& [name, pool] : {std::pair{"requests", p.pool}, std::pair{"credentials", p.auth_pool}}) {
    const auto st = pool->stats();
    w.sample("spectra_db_pool_connections", {{"pool", name}, {"state", "max"}}, static_cast<double>(st.size));
    w.sample("spectra_db_pool_connections", {{"pool", name}, {"state", "open"}}, static_cast<double>(st.open));
    w.sample("spectra_db_pool_connections", {{"pool", name}, {"state", "in_use"}},
             static_cast<double>(st.open - std::min(st.open, st.idle)));
    w.sample("spectra_db_pool_waiting", {{"pool", name}}, static_cast<double>(st.waiting));
  }
  w.family("spectra_db_pool_waits_total", "counter", "Acquisitions that had to wait for a connection");
  w.family("spectra_db_pool_wait_seconds_total", "counter", "Time spent waiting for a connection");
  w.family("spectra_db_pool_exhausted_total", "counter", "Acquisitions that gave up after DB_ACQUIRE_TIMEOUT (503)");
  for (const auto& [name, pool] : {std::pair{"requests", p.pool}, std::pair{"credentials", p.auth_pool}}) {
    const auto st = pool->stats();
    w.sample("spectra_db_pool_waits_total", {{"pool", name}}, static_cast<double>(st.waited));
    w.sample("spectra_db_pool_wait_seconds_total", {{"pool", name}}, st.wait_seconds);
    w.sample("spectra_db_pool_exhausted_total", {{"pool", name}}, static_cast<double>(st.exhausted));
  }
  w.counter("spectra_db_query_deadlines_total", "Statements cancelled at their query deadline (503)",
            static_cast<double>(db::deadlines_passed()));
  w.family("spectra_blocking_jobs", "gauge", "Jobs of the blocking pools (renders and exports; password checks) by state");
  w.family("spectra_blocking_threads", "gauge", "Threads of the blocking pools");
  for (const auto& [name, pool] : {std::pair{"bulk", p.blocking}, std::pair{"passwords", p.passwords}}) {
    if (!pool) continue;
    const int running = pool->running(), pending = pool->pending();
    w.sample("spectra_blocking_jobs", {{"pool", name}, {"state", "running"}}, running);
    w.sample("spectra_blocking_jobs", {{"pool", name}, {"state", "queued"}}, std::max(0, pending - running));
    w.sample("spectra_blocking_threads", {{"pool", name}}, pool->threads());
  }
  if (p.sequencer) {
    const auto st = p.sequencer->status();
    w.gauge("spectra_audit_sequencer_leader", "1 when this process's sequencer links the audit trail", st.leader ? 1 : 0);
    w.gauge("spectra_audit_pending_events", "Audit events not linked yet (every organization)",
            static_cast<double>(st.pending));
    w.gauge("spectra_audit_lag_seconds", "The age of the oldest audit event not linked yet",
            static_cast<double>(st.lag_ms) / 1000);
  }
  if (p.throttle) {
    const auto c = p.throttle->counts();
    w.counter("spectra_login_failures_total", "Wrong passwords (logins and signatures)", static_cast<double>(c.failures));
    w.counter("spectra_login_throttled_total", "Password attempts refused by the throttle (429)",
              static_cast<double>(c.throttled));
  }
  if (p.dispatcher) {
    const auto st = p.dispatcher->stats();
    w.family("spectra_webhook_attempts_total", "counter", "Webhook deliveries tried by this process, by outcome");
    w.sample("spectra_webhook_attempts_total", {{"outcome", "delivered"}}, static_cast<double>(st.webhooks_delivered));
    w.sample("spectra_webhook_attempts_total", {{"outcome", "failed"}}, static_cast<double>(st.webhooks_failed));
    w.family("spectra_mail_attempts_total", "counter", "Mail sent by this process, by outcome");
    w.sample("spectra_mail_attempts_total", {{"outcome", "sent"}}, static_cast<double>(st.mail_sent));
    w.sample("spectra_mail_attempts_total", {{"outcome", "failed"}}, static_cast<double>(st.mail_failed));
    if (st.sending) {  // the process that leads the sending knows the queues
      w.gauge("spectra_notification_organizations_due",
              "Organizations with webhook deliveries or mail due at the sender's last round",
              static_cast<double>(st.organizations_due));
      w.family("spectra_outbound_queue", "gauge", "Pending webhook deliveries and mail (every organization), by state");
      w.sample("spectra_outbound_queue", {{"queue", "webhook"}, {"state", "pending"}}, static_cast<double>(st.webhooks_pending));
      w.sample("spectra_outbound_queue", {{"queue", "webhook"}, {"state", "due"}}, static_cast<double>(st.webhooks_due));
      w.sample("spectra_outbound_queue", {{"queue", "mail"}, {"state", "pending"}}, static_cast<double>(st.mail_pending));
      w.sample("spectra_outbound_queue", {{"queue", "mail"}, {"state", "due"}}, static_cast<double>(st.mail_due));
    }
  }
  w.family("spectra_http_connections", "gauge", "Open connections by service");
  if (p.lims_server) w.sample("spectra_http_connections", {{"service", "lims"}}, p.lims_server->connections());
  if (p.analysis_server) w.sample("spectra_http_connections", {{"service", "analysis"}}, p.analysis_server->connections());
}

}  // namespace

std::string owner_database_url(const Config& config) {
  if (!config.database_url.empty()) return config.database_url;
  const auto script = find_pg_script().string();
  run_program({script, "start", "run"}, Capture::standard_output);
  return run_program({script, "dsn", "run"}, Capture::standard_output);
}

struct Runtime::Impl {
  Config config;
  ServeOptions options;
  std::unique_ptr<asio::io_context> ioc = std::make_unique<asio::io_context>();
  std::unique_ptr<db::Pool> pool, auth_pool;
  std::unique_ptr<BlockingPool> blocking, passwords;
  std::unique_ptr<ContentStore> files;
  std::unique_ptr<BlockingPool> jwks_fetches;  // its own thread: a slow provider never delays logins
  std::unique_ptr<auth::TokenService> tokens;
  std::unique_ptr<auth::LoginThrottle> throttle;
  std::unique_ptr<auth::ExternalKeys> external;
  std::unique_ptr<audit::CheckpointSigner> audit_signer;
  std::unique_ptr<audit::Sequencer> sequencer;
  std::unique_ptr<db::Listener> listener;
  std::unique_ptr<notifications::Dispatcher> dispatcher;
  kit::Dependencies deps;
  std::unique_ptr<kit::Api> lims, analysis, metrics_api;
  metrics::Registry metrics;
  int collector = 0;
  std::unique_ptr<HttpServer> lims_server, analysis_server, metrics_server;
  std::vector<std::thread> threads;
  bool running = false;

  Impl(Config c, ServeOptions o) : config(std::move(c)), options(o) {}
};

Runtime::Runtime(Config config, ServeOptions options) : impl_(std::make_unique<Impl>(std::move(config), options)) {}

Runtime::~Runtime() {
  try {
    stop();
  } catch (...) {
  }
}

void Runtime::start() {
  auto& s = *impl_;
  auto& cfg = s.config;
  fit_file_limit(cfg, (s.options.lims ? 1 : 0) + (s.options.analysis ? 1 : 0));
  // Fail early and clearly on a bad key or a duplicate statement name before touching the network.
  if (auto dup = db::duplicate_query_names(); !dup.empty())
    throw std::runtime_error("two SQL statements share the name " + dup.front() + ": the pool would run the wrong one");
  s.tokens = std::make_unique<auth::TokenService>(cfg);
  if (cfg.audit_key.empty())
    throw std::runtime_error("AUDIT_KEY or AUDIT_KEY_FILE must be set: the audit trail's key, kept outside the database");
  s.audit_signer = std::make_unique<audit::CheckpointSigner>(cfg.audit_key);

  std::string conninfo = cfg.app_database_url;
  std::string user;
  if (conninfo.empty()) {
    conninfo = owner_database_url(cfg);
    user = cfg.app_database_user;
  }
  {
    db::BlockingConnection check(conninfo, user);
    db::require_schema_at_head(check);
    refuse_privileged_role(check);
    // Every statement the server may send, prepared once against this schema before serving: a
    // statement the schema refuses, or a row with two columns of one name, stops it here instead of
    // answering 500 on the first request that needs it.
    if (auto problems = db::statement_problems(check); !problems.empty()) {
      std::string all;
      for (const auto& p : problems) all += "\n  " + p;
      throw std::runtime_error(std::to_string(problems.size()) + " SQL statement(s) do not fit the schema:" + all);
    }
  }
  db::PoolOptions po;
  po.conninfo = conninfo;
  po.user = user;
  po.max_size = static_cast<std::size_t>(cfg.db_pool_size);
  po.acquire_timeout = cfg.db_acquire_timeout;
  po.statement_timeout = cfg.db_statement_timeout;
  po.query_deadline = cfg.db_statement_timeout + std::chrono::seconds(5);
  s.pool = std::make_unique<db::Pool>(s.ioc->get_executor(), po);
  // Credential checks (login, signing) and their audit events have connections and threads of their
  // own: a flood of requests, or of one organization's renders, never keeps a login waiting.
  db::PoolOptions auth_po = po;
  auth_po.max_size = static_cast<std::size_t>(cfg.db_auth_pool_size);
  auth_po.application_name = "spectra-auth";
  s.auth_pool = std::make_unique<db::Pool>(s.ioc->get_executor(), auth_po);
  // Renders and exports are bulk work: they run at a lower priority than I/O and password checks.
  s.blocking = std::make_unique<BlockingPool>(cfg.blocking_threads, cfg.blocking_queue, 10);
  s.passwords = std::make_unique<BlockingPool>(cfg.password_threads, cfg.password_queue);
  s.throttle = std::make_unique<auth::LoginThrottle>(cfg, *s.auth_pool);
  if (!cfg.jwks_url.empty()) {
    s.jwks_fetches = std::make_unique<BlockingPool>(1, 16);
    s.external = std::make_unique<auth::ExternalKeys>(cfg, *s.jwks_fetches);
  }

  s.deps.config = cfg;
  s.deps.pool = s.pool.get();
  s.deps.auth_pool = s.auth_pool.get();
  s.deps.blocking = s.blocking.get();
  s.deps.passwords = s.passwords.get();
  s.files = std::make_unique<ContentStore>(cfg.data_dir);
  s.deps.files = s.files.get();
  s.deps.tokens = s.tokens.get();
  s.deps.throttle = s.throttle.get();
  s.deps.external_keys = s.external.get();
  // The sequencer connects as its own role (DATABASE_SEQUENCER_URL, else the application's connection
  // as DATABASE_SEQUENCER_USER): the application role cannot reach across organizations.
  if (!cfg.sequencer_database_url.empty())
    s.sequencer = std::make_unique<audit::Sequencer>(cfg.sequencer_database_url, std::string(), cfg);
  else
    s.sequencer = std::make_unique<audit::Sequencer>(conninfo, cfg.sequencer_database_user, cfg);
  s.deps.audit_sequencer = s.sequencer.get();
  s.deps.metrics = &s.metrics;
  s.deps.audit_signer = s.audit_signer.get();
  // Notifications: the dispatcher (leader-elected, like the sequencer) and this process's listener,
  // which wakes the notification streams it serves.
  s.dispatcher = std::make_unique<notifications::Dispatcher>(conninfo, user, cfg);
  if (s.options.lims) {
    s.listener = std::make_unique<db::Listener>(conninfo, user, notifications::channel);
    s.deps.notifications = s.listener.get();
  }

  if (s.options.analysis) {
    s.analysis = std::make_unique<kit::Api>(s.deps, "analysis", analysis_router(),
                                            kit::BrowserOptions{.cors_origins = cfg.cors_origins, .site = nullptr,
                                                                .content_security_policy = {}});
    s.analysis_server =
        std::make_unique<HttpServer>(*s.ioc, s.analysis->handler(), s.deps.config, cfg.host, cfg.analysis_port, &s.metrics);
    s.analysis_server->start();
  }
  if (s.options.lims) {
    // The app is told the Analysis API's port as bound (an ephemeral port in the tests).
    Config app = cfg;
    if (s.analysis_server) app.analysis_port = s.analysis_server->port();
    s.lims = std::make_unique<kit::Api>(
        s.deps, "lims", lims_router(),
        kit::BrowserOptions{.cors_origins = {},
                            .site = web_app(app),
                            .content_security_policy = content_security_policy(app)});
    s.lims_server =
        std::make_unique<HttpServer>(*s.ioc, s.lims->handler(), s.deps.config, cfg.host, cfg.lims_port, &s.metrics);
    s.lims_server->start();
  }
  s.collector = s.metrics.add_collector([&s](metrics::Writer& w) {
    collect(w, Parts{s.pool.get(), s.auth_pool.get(), s.blocking.get(), s.passwords.get(), s.sequencer.get(),
                     s.throttle.get(), s.dispatcher.get(), s.lims_server.get(), s.analysis_server.get()});
  });
  if (cfg.metrics_port > 0) {
    s.metrics_api = std::make_unique<kit::Api>(s.deps, "metrics", kit::Router("SPECTRA-Lab metrics", kit::metrics_routes()));
    s.metrics_server = std::make_unique<HttpServer>(*s.ioc, s.metrics_api->handler(), s.deps.config, cfg.metrics_host,
                                                    static_cast<std::uint16_t>(cfg.metrics_port));
    s.metrics_server->start();
  }
  const int n = cfg.io_threads > 0 ? cfg.io_threads : std::max(1u, std::thread::hardware_concurrency());
  for (int i = 0; i < n; ++i) s.threads.emplace_back([&s] { s.ioc->run(); });
  s.running = true;
  const char* scheme = cfg.tls_cert_file.empty() ? "http" : "https";
  if (s.lims_server) spdlog::info("LIMS API listening on {}://{}:{}", scheme, cfg.host, s.lims_server->port());
  if (s.analysis_server)
    spdlog::info("Analysis API listening on {}://{}:{}", scheme, cfg.host, s.analysis_server->port());
  if (s.metrics_server)
    spdlog::info("Prometheus metrics on {}://{}:{}/metrics", scheme, cfg.metrics_host, s.metrics_server->port());
}

void Runtime::stop() {
  auto& s = *impl_;
  if (!s.running) return;
  s.running = false;
  spdlog::info("stopping: no new connections; finishing requests in flight");
  if (s.lims_server) s.lims_server->stop_accepting();
  if (s.analysis_server) s.analysis_server->stop_accepting();
  if (s.metrics_server) s.metrics_server->stop_accepting();
  if (s.listener) s.listener->close();  // notification streams end (with a retry hint)
  const auto deadline = std::chrono::steady_clock::now() + s.config.shutdown_grace;
  auto busy = [&] {
    return (s.lims_server && s.lims_server->in_flight() > 0) || (s.analysis_server && s.analysis_server->in_flight() > 0);
  };
  while (busy() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (busy()) spdlog::warn("stopping: {} requests still in flight after SHUTDOWN_GRACE_SECONDS", in_flight());
  s.metrics.remove_collector(s.collector);
  s.ioc->stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  // Blocking jobs first: a running one finishes and posts to the (stopped) I/O context; queued ones are
  // dropped with the coroutines waiting on them, while everything they reference still exists.
  s.blocking->stop();
  s.blocking.reset();
  s.passwords->stop();
  s.passwords.reset();
  s.deps.passwords = nullptr;
  if (s.jwks_fetches) s.jwks_fetches->stop();
  s.jwks_fetches.reset();
  s.deps.blocking = nullptr;
  // Then what is left on the I/O context (idle keep-alive connections, requests past the deadline),
  // while the pool still exists; connections they return are closed at once.
  s.pool->close();
  s.auth_pool->close();
  s.sequencer.reset();  // its leader links the events of the requests that just finished first
  s.dispatcher.reset();
  s.deps.notifications = nullptr;
  s.listener.reset();
  s.lims_server.reset();
  s.analysis_server.reset();
  s.metrics_server.reset();
  s.ioc.reset();
  spdlog::info("stopped");
}

void Runtime::run_until_signal() {
  asio::io_context sig_ctx;
  asio::signal_set signals(sig_ctx, SIGINT, SIGTERM);
  signals.async_wait([](const boost::system::error_code&, int sig) { spdlog::info("received signal {}", sig); });
  sig_ctx.run();
  stop();
}

int Runtime::in_flight() const {
  const auto& s = *impl_;
  return (s.lims_server ? s.lims_server->in_flight() : 0) + (s.analysis_server ? s.analysis_server->in_flight() : 0);
}

std::uint16_t Runtime::lims_port() const { return impl_->lims_server ? impl_->lims_server->port() : 0; }
std::uint16_t Runtime::metrics_port() const { return impl_->metrics_server ? impl_->metrics_server->port() : 0; }
std::uint16_t Runtime::analysis_port() const {
  return impl_->analysis_server ? impl_->analysis_server->port() : 0;
}

}  // namespace spectra
