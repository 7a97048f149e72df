#include "platform/db/blocking_connection.hpp"

#include <poll.h>

#include <map>
#include <set>

#include <cctype>

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
  std::vector<const char*> vals{conninfo.c_str(), "spectra-cli", "-c TimeZone=UTC -c DateStyle=ISO", "UTF8", "10",
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

Result BlockingConnection::describe(const std::string& sql) {
  PGresult* prepared = PQprepare(pg_, "", sql.c_str(), 0, nullptr);
  const Result owned(prepared);
  if (PQresultStatus(prepared) != PGRES_COMMAND_OK) throw SqlError::from_result(prepared);
  PGresult* described = PQdescribePrepared(pg_, "");
  Result out(described);
  if (PQresultStatus(described) != PGRES_COMMAND_OK) throw SqlError::from_result(described);
  return out;
}

std::vector<std::string> BlockingConnection::wait_for_notifications(std::chrono::milliseconds timeout) {
  std::vector<std::string> out;
  auto drain = [&] {
    while (PGnotify* n = PQnotifies(pg_)) {
      out.emplace_back(n->extra ? n->extra : "");
      PQfreemem(n);
    }
  };
  drain();
  if (!out.empty()) return out;
  pollfd fd{PQsocket(pg_), POLLIN, 0};
  if (fd.fd < 0) throw std::runtime_error("the database connection is gone");
  if (::poll(&fd, 1, static_cast<int>(timeout.count())) > 0) {
    if (!PQconsumeInput(pg_)) throw std::runtime_error(std::string("the database connection failed: ") + PQerrorMessage(pg_));
    drain();
  }
  return out;
}

std::vector<std::string> statement_problems(BlockingConnection& c) {
  std::vector<std::string> problems;
  std::map<std::string, std::set<std::string>> columns;  // of each statement that describes
  for (const auto& [name, sql] : registered_queries()) {
    try {
      const auto r = c.describe(sql);
      auto& seen = columns[name];
      for (int col = 0; col < r.columns(); ++col)
        if (!seen.insert(std::string(r.column_name(col))).second)
          problems.push_back(name + ": two result columns are named " + std::string(r.column_name(col)));
    } catch (const SqlError& e) {
      problems.push_back(name + ": " + e.what());
    }
  }
  for (const auto& [name, wanted] : expected_columns()) {
    const auto found = columns.find(name);
    if (found == columns.end()) continue;  // not prepared: reported above
    for (const auto& column : wanted)
      if (!found->second.contains(column))
        problems.push_back(name + ": a reader expects a column named " + column + ", which it does not return");
  }
  return problems;
}

void BlockingConnection::exec_script(const std::string& sql) {
  for (const auto& statement : split_sql(sql)) {
    PGresult* r = PQexec(pg_, statement.c_str());
    Result owned(r);
    const auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) throw SqlError::from_result(r);
  }
}

std::vector<std::string> split_sql(std::string_view s) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&] {
    const auto first = current.find_first_not_of(" \t\r\n");
    if (first != std::string::npos) out.push_back(current.substr(first));
    current.clear();
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {  // line comment: dropped
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {  // block comment (nests): dropped
      int depth = 0;
      do {
        if (s.compare(i, 2, "/*") == 0) ++depth, i += 2;
        else if (s.compare(i, 2, "*/") == 0) --depth, i += 2;
        else ++i;
      } while (i < s.size() && depth > 0);
      current += ' ';
      continue;
    }
    if (c == '\'' || c == '"') {  // quoted: a doubled quote stays inside
      std::size_t j = i + 1;
      while (j < s.size() && !(s[j] == c && !(j + 1 < s.size() && s[j + 1] == c))) j += (s[j] == c) ? 2 : 1;
      current.append(s.substr(i, j + 1 - i));
      i = j + 1;
      continue;
    }
    if (c == '$') {  // $tag$ … $tag$ (a $n parameter has a digit first and is no tag)
      std::size_t j = i + 1;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j < s.size() && s[j] == '$' && !(j > i + 1 && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
        const std::string_view tag = s.substr(i, j + 1 - i);
        const auto end = s.find(tag, j + 1);
        const std::size_t stop = end == std::string_view::npos ? s.size() : end + tag.size();
        current.append(s.substr(i, stop - i));
        i = stop;
        continue;
      }
    }
    if (c == ';') {
      flush();
      ++i;
      continue;
    }
    current += c;
    ++i;
  }
  flush();
  return out;
}

std::string BlockingConnection::user() const { return PQuser(pg_); }

}  // namespace spectra::db
