#include "platform/db/blocking_connection.hpp"

#include <libpq-fe.h>

#include <stdexcept>
#include <vector>

#include "platform/db/sql_error.hpp"

namespace spectra::db {

BlockingConnection::BlockingConnection(const std::string& conninfo, const std::string& user) {
  // A dead peer is noticed (keepalives, tcp_user_timeout) and a connect gives up, as in the pool.
  std::vector<const char*> keys{"dbname",     "application_name", "options",          "client_encoding", "connect_timeout",
                                "keepalives", "keepalives_idle",  "keepalives_interval", "keepalives_count",
                                "tcp_user_timeout"};
  std::vector<const char*> vals{conninfo.c_str(), "spectra-cli", "-c TimeZone=UTC", "UTF8", "10",
                                "1",              "30",          "10",              "3",    "30000"};
  if (!user.empty()) {
    keys.push_back("user");
    vals.push_back(user.c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);
  pg_ = PQconnectdbParams(keys.data(), vals.data(), 1);
  if (!pg_ || PQstatus(pg_) != CONNECTION_OK) {
    std::string msg = pg_ ? PQerrorMessage(pg_) : "out of memory";
    if (pg_) PQfinish(pg_);
    pg_ = nullptr;
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    throw std::runtime_error("cannot connect to the database: " + msg);
  }
  PQsetNoticeProcessor(pg_, [](void*, const char*) {}, nullptr);
}

BlockingConnection::~BlockingConnection() {
  if (pg_) PQfinish(pg_);
}

Result BlockingConnection::exec(std::string_view sql, const Params& params) {
  std::vector<const char*> values;
  for (const auto& v : params.values()) values.push_back(v ? v->c_str() : nullptr);
  const std::string text(sql);
  PGresult* r = PQexecParams(pg_, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  Result out(r);
  const auto st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) throw SqlError::from_result(r);
  return out;
}

void BlockingConnection::exec_script(const std::string& sql) {
  PGresult* r = PQexec(pg_, sql.c_str());
  Result owned(r);
  const auto st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) throw SqlError::from_result(r);
}

std::string BlockingConnection::user() const { return PQuser(pg_); }

}  // namespace spectra::db
