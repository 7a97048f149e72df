#include "platform/config.hpp"

#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <optional>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace spectra {
namespace {

std::string env(const char* name, std::string fallback = {}) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : fallback;
}

template <class T>
T env_number(const char* name, T fallback, T min, T max) {
  const std::string v = env(name);
  if (v.empty()) return fallback;
  T out{};
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || ptr != v.data() + v.size() || out < min || out > max)
    throw std::runtime_error(std::string(name) + " must be a whole number from " + std::to_string(min) + " to " +
                             std::to_string(max) + ", got '" + v + "'");
  return out;
}

// The items of a comma-separated list, trimmed of spaces, empty ones dropped.
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  auto flush = [&] {
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    item.clear();
  };
  for (char ch : text) {
    if (ch == ',') flush();
    else if (ch != ' ' || !item.empty()) item += ch;
  }
  flush();
  return out;
}

// http(s)://host[:port] and nothing after it, an origin as a browser sends it; nothing otherwise.
// The view refers to `s`.
std::optional<boost::urls::url_view> parse_origin(const std::string& s) {
  auto u = boost::urls::parse_uri(s);
  if (!u || (u->scheme() != "http" && u->scheme() != "https") || !u->has_authority() || u->has_userinfo() ||
      u->encoded_host().empty() || !u->encoded_path().empty() || u->has_query() || u->has_fragment())
    return std::nullopt;
  return *u;
}

bool is_origin(const std::string& s) { return parse_origin(s).has_value(); }

// A port's origins on this server, under the names a browser on this machine may use for a loopback
// address.
std::vector<std::string> origins_of(const Config& c, std::uint16_t port_number) {
  const std::string scheme = c.tls_cert_file.empty() ? "http://" : "https://";
  const std::string port = ":" + std::to_string(port_number);
  if (c.host == "127.0.0.1" || c.host == "0.0.0.0" || c.host == "::" || c.host == "::1")
    return {scheme + "localhost" + port, scheme + "127.0.0.1" + port};
  return {scheme + c.host + port};
}

}  // namespace

std::string normalize_database_url(std::string url) {
  for (std::string_view prefix : {"postgresql+psycopg2://", "postgresql+psycopg://", "postgresql+asyncpg://"}) {
    if (url.starts_with(prefix)) return "postgresql://" + url.substr(prefix.size());
  }
  return url;
}

Config Config::from_env() {
  Config c;
  c.database_url = normalize_database_url(env("DATABASE_URL"));
  c.app_database_url = normalize_database_url(env("DATABASE_APP_URL"));
  c.app_database_user = env("DATABASE_APP_USER", c.app_database_user);
  c.sequencer_database_url = normalize_database_url(env("DATABASE_SEQUENCER_URL"));
  c.sequencer_database_user = env("DATABASE_SEQUENCER_USER", c.sequencer_database_user);
  c.db_pool_size = env_number("DB_POOL_SIZE", c.db_pool_size, 1, 500);
  c.db_auth_pool_size = env_number("DB_AUTH_POOL_SIZE", c.db_auth_pool_size, 1, 100);
  c.db_acquire_timeout = std::chrono::milliseconds(env_number<long>("DB_ACQUIRE_TIMEOUT_MS", 3000, 10, 600000));
  c.db_statement_timeout = std::chrono::milliseconds(env_number<long>("DB_STATEMENT_TIMEOUT_MS", 15000, 0, 3600000));
  c.host = env("HOST", c.host);
  if (c.host == "localhost") c.host = "127.0.0.1";
  {
    boost::system::error_code ec;
    boost::asio::ip::make_address(c.host, ec);
    if (ec) throw std::runtime_error("HOST must be an IP address such as 127.0.0.1 or 0.0.0.0, got '" + c.host + "'");
  }
  c.lims_port = env_number<std::uint16_t>("LIMS_PORT", c.lims_port, 0, 65535);
  c.analysis_port = env_number<std::uint16_t>("ANALYSIS_PORT", c.analysis_port, 0, 65535);
  c.io_threads = env_number("IO_THREADS", 0, 0, 256);
  c.blocking_threads = env_number("BLOCKING_THREADS", 2, 1, 64);
  c.body_limit = env_number<std::size_t>("MAX_BODY_BYTES", c.body_limit, 1024, std::size_t{1} << 30);
  c.upload_limit = env_number<std::size_t>("MAX_UPLOAD_BYTES", c.upload_limit, 1024, std::size_t{1} << 32);
  {
    const std::string home = env("SPECTRA_HOME");
    c.data_dir = env("DATA_DIR", home.empty() ? std::string("var/data") : home + "/var/data");
  }
  c.clamd_socket = env("CLAMD_SOCKET");
  c.clamd_timeout = std::chrono::seconds(env_number<long>("CLAMD_TIMEOUT_SECONDS", 30, 1, 3600));
  c.max_connections = env_number("MAX_CONNECTIONS", c.max_connections, 1, 1000000);
  c.blocking_queue = env_number("BLOCKING_QUEUE", c.blocking_queue, 1, 100000);
  c.password_threads = env_number("PASSWORD_THREADS", c.password_threads, 1, 64);
  c.password_queue = env_number("PASSWORD_QUEUE", c.password_queue, 1, 100000);
  c.max_connections_per_client = env_number("MAX_CONNECTIONS_PER_CLIENT", c.max_connections_per_client, 1, 1000000);
  for (const auto& item : split_commas(env("TRUSTED_PROXIES"))) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(item, ec);
    if (ec) throw std::runtime_error("TRUSTED_PROXIES must list IP addresses, got '" + item + "'");
    c.trusted_proxies.push_back(item);
  }
  c.read_timeout = std::chrono::seconds(env_number<long>("READ_TIMEOUT_SECONDS", 30, 1, 3600));
  c.idle_timeout = std::chrono::seconds(env_number<long>("IDLE_TIMEOUT_SECONDS", 60, 1, 3600));

  c.jwt_algorithm = env("JWT_ALGORITHM", c.jwt_algorithm);
  if (c.jwt_algorithm != "HS256" && c.jwt_algorithm != "RS256")
    throw std::runtime_error("JWT_ALGORITHM must be HS256 or RS256, got '" + c.jwt_algorithm + "'");
  c.jwt_secret = env("JWT_SECRET");
  c.jwt_private_key_file = env("JWT_PRIVATE_KEY_FILE");
  c.jwt_public_key_file = env("JWT_PUBLIC_KEY_FILE");
  c.jwt_previous_public_key_files = env("JWT_PREVIOUS_PUBLIC_KEY_FILES");
  c.jwt_previous_secrets = env("JWT_PREVIOUS_SECRETS");
  c.access_token_minutes = env_number("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", 15, 1, 24 * 60);
  c.refresh_token_days = env_number("JWT_REFRESH_TOKEN_EXPIRE_DAYS", 7, 1, 365);
  c.refresh_session_max_days = env_number("JWT_REFRESH_SESSION_MAX_DAYS", 30, 1, 3650);
  if (c.refresh_session_max_days < c.refresh_token_days)
    throw std::runtime_error("JWT_REFRESH_SESSION_MAX_DAYS must not be shorter than JWT_REFRESH_TOKEN_EXPIRE_DAYS");
  c.jwt_issuer = env("JWT_ISSUER", c.jwt_issuer);
  c.jwt_audience = env("JWT_AUDIENCE", c.jwt_audience);
  c.jwks_url = env("JWKS_URL");
  c.public_url = env("PUBLIC_URL");
  while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();
  c.jwks_issuer = env("JWKS_ISSUER");
  c.jwks_audience = env("JWKS_AUDIENCE");

  c.login_max_failures_per_account = env_number("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5, 1, 1000);
  c.login_max_failures_per_address = env_number("LOGIN_MAX_FAILURES_PER_ADDRESS", 20, 1, 100000);
  c.login_failure_window = std::chrono::seconds(env_number<long>("LOGIN_FAILURE_WINDOW_SECONDS", 900, 1, 86400));
  c.login_lockout = std::chrono::seconds(env_number<long>("LOGIN_LOCKOUT_SECONDS", 300, 1, 86400));

  c.audit_key = env("AUDIT_KEY");
  if (const auto file = env("AUDIT_KEY_FILE"); !file.empty()) {
    if (!c.audit_key.empty()) throw std::runtime_error("set AUDIT_KEY or AUDIT_KEY_FILE, not both");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("AUDIT_KEY_FILE " + file + " cannot be read");
    c.audit_key.assign(std::istreambuf_iterator<char>(in), {});
    while (!c.audit_key.empty() && (c.audit_key.back() == '\n' || c.audit_key.back() == '\r')) c.audit_key.pop_back();
  }
  if (!c.audit_key.empty() && c.audit_key.size() < 32)
    throw std::runtime_error("the audit key (AUDIT_KEY or AUDIT_KEY_FILE) must be at least 32 bytes");
  c.audit_checkpoint_file = env("AUDIT_CHECKPOINT_FILE");
  c.audit_checkpoint_interval =
      std::chrono::seconds(env_number<long>("AUDIT_CHECKPOINT_INTERVAL_SECONDS", 60, 1, 86400));

  c.smtp_url = env("SMTP_URL");
  if (!c.smtp_url.empty() && c.smtp_url.rfind("smtp://", 0) != 0 && c.smtp_url.rfind("smtps://", 0) != 0)
    throw std::runtime_error("SMTP_URL must be smtp://host:port or smtps://host:port, got '" + c.smtp_url + "'");
  c.mail_from = env("MAIL_FROM", c.mail_from);
  if (const auto v = env("WEBHOOK_ALLOW_PRIVATE"); !v.empty()) {
    if (v != "true" && v != "false") throw std::runtime_error("WEBHOOK_ALLOW_PRIVATE must be true or false, got '" + v + "'");
    c.webhook_allow_private = v == "true";
  }
  c.notify_interval = std::chrono::milliseconds(env_number<long>("NOTIFY_INTERVAL_MS", 1000, 50, 60000));

  c.metrics_port = env_number("METRICS_PORT", 0, 0, 65535);
  c.metrics_host = env("METRICS_HOST", c.host);
  {
    boost::system::error_code ec;
    boost::asio::ip::make_address(c.metrics_host, ec);
    if (ec) throw std::runtime_error("METRICS_HOST must be an IP address such as 127.0.0.1, got '" + c.metrics_host + "'");
  }
  c.metrics_token = env("METRICS_TOKEN");
  if (!c.metrics_token.empty() && c.metrics_token.size() < 16)
    throw std::runtime_error("METRICS_TOKEN must be at least 16 characters");
  c.shutdown_grace = std::chrono::seconds(env_number<long>("SHUTDOWN_GRACE_SECONDS", 20, 0, 3600));

  c.tls_cert_file = env("TLS_CERT_FILE");
  c.tls_handshake_timeout = std::chrono::seconds(env_number<long>("TLS_HANDSHAKE_TIMEOUT_SECONDS", 10, 1, 300));
  c.tls_key_file = env("TLS_KEY_FILE");
  for (const auto& origin : split_commas(env("CORS_ORIGINS"))) {
    if (!is_origin(origin))
      throw std::runtime_error("CORS_ORIGINS must list origins such as https://lims.example.org, got '" + origin + "'");
    c.cors_origins.push_back(origin);
  }
  if (c.cors_origins.empty()) c.cors_origins = origins_of(c, c.lims_port);  // the LIMS API's own
  const std::string home = env("SPECTRA_HOME");
  c.web_root = env("WEB_ROOT", home.empty() ? std::string("web/dist") : home + "/web/dist");
  c.log_level = env("LOG_LEVEL", c.log_level);
  if (c.log_level != "trace" && c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error" && c.log_level != "critical" && c.log_level != "off")
    throw std::runtime_error("LOG_LEVEL must be trace, debug, info, warn, error, critical or off, got '" + c.log_level + "'");
  c.log_format = env("LOG_FORMAT", c.log_format);
  if (c.log_format != "text" && c.log_format != "json")
    throw std::runtime_error("LOG_FORMAT must be text or json, got '" + c.log_format + "'");
  return c;
}

namespace {

std::string secret(const std::string& value) {
  return value.empty() ? "(unset)" : "(set, " + std::to_string(value.size()) + " bytes)";
}

// scheme://user:password@host…  →  scheme://user:****@host…; key=value strings lose password=….
std::string mask_url(const std::string& url) {
  if (url.empty()) return "(unset)";
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) {
    std::string out;
    std::istringstream words(url);
    for (std::string w; words >> w;) {
      if (!out.empty()) out += ' ';
      out += w.rfind("password=", 0) == 0 ? "password=****" : w;
    }
    return out;
  }
  const auto at = url.find('@', scheme + 3);
  const auto colon = url.find(':', scheme + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "****" + url.substr(at);
}

bool loopback(const std::string& host) { return host == "127.0.0.1" || host == "::1" || host.rfind("127.", 0) == 0; }

}  // namespace

std::vector<std::pair<std::string, std::string>> Config::describe() const {
  const auto ms = [](auto d) { return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
  std::string cors;
  for (const auto& o : cors_origins) cors += (cors.empty() ? "" : ",") + o;
  return {
      {"DATABASE_URL", database_url.empty() ? "(unset: the private development database)" : mask_url(database_url)},
      {"DATABASE_APP_URL", mask_url(app_database_url)},
      {"DATABASE_SEQUENCER_URL", mask_url(sequencer_database_url)},
      {"DB_POOL_SIZE", std::to_string(db_pool_size)},
      {"DB_AUTH_POOL_SIZE", std::to_string(db_auth_pool_size)},
      {"DB_STATEMENT_TIMEOUT_MS", ms(db_statement_timeout)},
      {"HOST", host},
      {"LIMS_PORT", std::to_string(lims_port)},
      {"ANALYSIS_PORT", std::to_string(analysis_port)},
      {"METRICS_HOST", metrics_host},
      {"METRICS_PORT", metrics_port ? std::to_string(metrics_port) : "(unset: no metrics listener)"},
      {"METRICS_TOKEN", secret(metrics_token)},
      {"TLS_CERT_FILE", tls_cert_file.empty() ? "(unset: plain HTTP)" : tls_cert_file},
      {"TLS_KEY_FILE", tls_key_file.empty() ? "(unset)" : tls_key_file},
      {"TRUSTED_PROXIES", std::to_string(trusted_proxies.size()) + " entries"},
      {"CORS_ORIGINS", cors},
      {"JWT_ALGORITHM", jwt_algorithm},
      {"JWT_SECRET", secret(jwt_secret)},
      {"JWT_PREVIOUS_SECRETS", secret(jwt_previous_secrets)},
      {"JWT_PRIVATE_KEY_FILE", jwt_private_key_file.empty() ? "(unset)" : jwt_private_key_file},
      {"JWT_PUBLIC_KEY_FILE", jwt_public_key_file.empty() ? "(unset)" : jwt_public_key_file},
      {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES", std::to_string(access_token_minutes)},
      {"JWT_REFRESH_TOKEN_EXPIRE_DAYS", std::to_string(refresh_token_days)},
      {"JWKS_URL", jwks_url.empty() ? "(unset)" : jwks_url},
      {"AUDIT_KEY", secret(audit_key)},
      {"AUDIT_CHECKPOINT_FILE", audit_checkpoint_file.empty() ? "(unset)" : audit_checkpoint_file},
      {"DATA_DIR", data_dir},
      {"CLAMD_SOCKET", clamd_socket.empty() ? "(unset: uploads are not scanned)" : clamd_socket},
      {"MAX_BODY_BYTES", std::to_string(body_limit)},
      {"MAX_UPLOAD_BYTES", std::to_string(upload_limit)},
      {"SMTP_URL", mask_url(smtp_url)},
      {"MAIL_FROM", mail_from},
      {"WEBHOOK_ALLOW_PRIVATE", webhook_allow_private ? "true" : "false"},
      {"SHUTDOWN_GRACE_SECONDS", std::to_string(shutdown_grace.count())},
      {"LOG_LEVEL", log_level},
      {"LOG_FORMAT", log_format},
  };
}

std::vector<std::string> Config::production_problems() const {
  std::vector<std::string> problems;
  if (jwt_algorithm == "HS256" && jwt_secret.size() < 32)
    problems.push_back(jwt_secret.empty() ? "JWT_SECRET is unset (HS256 needs a secret of at least 32 bytes)"
                                          : "JWT_SECRET is shorter than 32 bytes");
  if (audit_key.empty()) problems.push_back("AUDIT_KEY (or AUDIT_KEY_FILE) is unset: the audit trail cannot be linked");
  if (tls_cert_file.empty() && !loopback(host) && trusted_proxies.empty())
    problems.push_back("TLS is off and HOST " + host +
                       " is reachable from other hosts: set TLS_CERT_FILE and TLS_KEY_FILE, or serve behind a proxy "
                       "that terminates TLS (TRUSTED_PROXIES)");
  if (metrics_port > 0 && !loopback(metrics_host) && metrics_token.empty())
    problems.push_back("metrics are served on METRICS_HOST " + metrics_host +
                       " to anyone: bind them to 127.0.0.1 or to the scraper's network only");
  if (webhook_allow_private) problems.push_back("WEBHOOK_ALLOW_PRIVATE=true lets webhooks reach this network's own hosts");
  return problems;
}

std::vector<std::string> Config::analysis_origins() const {
  std::vector<std::string> out;
  for (const auto& origin : cors_origins) {
    const auto u = parse_origin(origin);
    if (!u) continue;
    std::string analysis = std::string(u->scheme()) + "://" + std::string(u->encoded_host()) + ":" + std::to_string(analysis_port);
    if (std::find(out.begin(), out.end(), analysis) == out.end()) out.push_back(std::move(analysis));
  }
  return out;
}

}  // namespace spectra
