#pragma once
// Configuration from the environment (API.md "Environment"), validated once at start-up.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace spectra {

struct Config {
  // Owner connection (migrations, CLI). Empty: the private development database.
  std::string database_url;
  // Application-role connection used to serve requests; derived from database_url when unset.
  std::string app_database_url;
  std::string app_database_user = "spectra_app";
  // The audit sequencer's own role: it alone may link every organization's events.
  std::string sequencer_database_url;
  std::string sequencer_database_user = "spectra_sequencer";
  int db_pool_size = 16;
  std::chrono::milliseconds db_acquire_timeout{3000};
  std::chrono::milliseconds db_statement_timeout{15000};

  std::string host = "127.0.0.1";
  std::uint16_t lims_port = 8002;
  std::uint16_t analysis_port = 8001;
  int io_threads = 0;  // 0: one per core
  int blocking_threads = 2;
  int blocking_queue = 64;  // renders, exports and scans waiting beyond the running ones; more get 503
  int password_threads = 2;
  int password_queue = 64;  // password checks waiting beyond the running ones; more get 503
  int db_auth_pool_size = 4;  // connections for credential checks (login, signing) and their audit
  std::size_t body_limit = 1 << 20;       // 1 MiB for JSON bodies
  std::size_t upload_limit = 25 << 20;    // attachments (MAX_UPLOAD_BYTES)
  // Where attachments are stored, by content (DATA_DIR; default $SPECTRA_HOME/var/data, else var/data).
  std::string data_dir = "var/data";
  // ClamAV's daemon (CLAMD_SOCKET, a unix socket): when set, every upload is scanned before it is stored.
  std::string clamd_socket;
  std::chrono::seconds clamd_timeout{30};
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds idle_timeout{60};
  std::vector<std::string> trusted_proxies;  // peers whose X-Forwarded-For names the client
  // Browser origins the Analysis API answers CORS requests from (CORS_ORIGINS, comma separated; by
  // default the LIMS API's own origin, where the web app is served).
  std::vector<std::string> cors_origins;
  // The web app's built files, served at / on the LIMS port (WEB_ROOT; default web/dist).
  std::string web_root = "web/dist";
  // Where a page served at each of cors_origins reaches the Analysis API: that scheme and host with
  // analysis_port (https://lims.example.org → https://lims.example.org:8001), as the web app does;
  // for its Content-Security-Policy.
  std::vector<std::string> analysis_origins() const;
  int max_connections = 1024;
  int max_connections_per_client = 128;  // an IPv4 address or an IPv6 /64; trusted proxies are exempt

  // JWT
  std::string jwt_algorithm = "HS256";
  std::string jwt_secret;
  std::string jwt_private_key_file;
  std::string jwt_public_key_file;
  std::string jwt_previous_public_key_files;  // comma separated, verification only (rotation)
  std::string jwt_previous_secrets;           // comma separated "kid:secret", verification only
  int access_token_minutes = 15;
  int refresh_token_days = 7;
  int refresh_session_max_days = 30;  // a refresh family's absolute lifetime, however often it rotates
  std::string jwt_issuer = "spectra-lab";
  std::string jwt_audience = "spectra-lab-api";
  std::string jwks_url;
  // The address people reach the LIMS at (PUBLIC_URL, e.g. https://lims.example.org): a certificate's
  // QR code links there. Empty: the address of the request that issues it (its Host).
  std::string public_url;
  std::string jwks_issuer;    // expected iss of external tokens (optional)
  std::string jwks_audience;  // expected aud of external tokens; empty: jwt_audience

  // Login throttling (per process)
  int login_max_failures_per_account = 5;
  int login_max_failures_per_address = 20;
  std::chrono::seconds login_failure_window{900};
  std::chrono::seconds login_lockout{300};

  // The audit trail's chain key (HMAC-SHA256), kept outside the database: AUDIT_KEY or AUDIT_KEY_FILE,
  // at least 32 bytes. The checkpoint signing key (Ed25519) is derived from it.
  std::string audit_key;
  std::string audit_checkpoint_file;  // when set, the sequencer appends a signed checkpoint per organization
  std::chrono::seconds audit_checkpoint_interval{60};
  std::chrono::milliseconds audit_sequencer_interval{200};
  // The sequencer's leader also deletes refresh tokens a day past their expiry, this often.
  std::chrono::seconds refresh_token_purge_interval{600};

  // Notifications: mail through SMTP_URL (smtp://host:port or smtps://; empty: no mail is sent, it
  // waits in the queue) from MAIL_FROM; webhooks to private, loopback and link-local addresses only
  // with WEBHOOK_ALLOW_PRIVATE=true. The dispatcher looks for work this often.
  std::string smtp_url;
  std::string mail_from = "SPECTRA-Lab <no-reply@localhost>";
  bool webhook_allow_private = false;
  std::chrono::milliseconds notify_interval{1000};
  std::chrono::seconds webhook_timeout{10};

  // Operations: Prometheus metrics on METRICS_HOST (HOST by default):METRICS_PORT (0: not served), and
  // on the API ports to a bearer of METRICS_TOKEN (empty: not there). A stop lets requests in flight
  // finish for up to SHUTDOWN_GRACE_SECONDS.
  std::string metrics_host;
  int metrics_port = 0;
  std::string metrics_token;
  std::chrono::seconds shutdown_grace{20};

  std::string tls_cert_file;
  std::string tls_key_file;
  std::chrono::seconds tls_handshake_timeout{10};  // a client that opens and says nothing is let go
  std::string log_level = "info";
  std::string log_format = "text";

  // Reads the environment; throws std::runtime_error with a clear message on an invalid value.
  static Config from_env();

  // `spectra config check`: the effective settings by environment variable, secrets masked (a set
  // secret shows its length only, a URL's password as ****).
  std::vector<std::pair<std::string, std::string>> describe() const;
  // What a production deployment must not run with: a short or missing HS256 secret, plain HTTP on an
  // address other hosts reach (unless TRUSTED_PROXIES terminate TLS in front), no audit key, metrics on
  // such an address without a token. Empty when none.
  std::vector<std::string> production_problems() const;
};

// Accepts postgresql://, postgres:// and postgresql+psycopg:// (SQLAlchemy's form); returns a libpq URI.
std::string normalize_database_url(std::string url);

}  // namespace spectra
