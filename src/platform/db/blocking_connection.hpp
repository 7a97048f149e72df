#pragma once
#include <chrono>
// A blocking connection for the command line (migrations, seed, audit verify) and tests; never used
// on the server's I/O threads.
#include <string>
#include <string_view>
#include <vector>

#include "platform/db/result.hpp"

struct pg_conn;

namespace spectra::db {

class BlockingConnection {
 public:
  // conninfo: a libpq URI or key=value string; user overrides its user when set.
  explicit BlockingConnection(const std::string& conninfo, const std::string& user = {});
  ~BlockingConnection();
  BlockingConnection(const BlockingConnection&) = delete;
  BlockingConnection& operator=(const BlockingConnection&) = delete;

  // One statement with $n parameters; throws SqlError when PostgreSQL refuses it.
  Result exec(std::string_view sql, const Params& params = {});
  // A script of several statements (migration files), run one statement at a time: Citus propagates
  // DDL to the workers statement by statement and cannot take a multi-statement query string.
  void exec_script(const std::string& sql);
  std::string user() const;
  // The result description (column names and types, no rows) of a statement, prepared unnamed and
  // not run; throws SqlError when PostgreSQL refuses the statement.
  Result describe(const std::string& sql);
  // Waits up to `timeout` for notifications on the channels this session LISTENs to (sent by
  // transactions that committed); answers their payloads, none when the time passed. Throws when the
  // connection is lost.
  std::vector<std::string> wait_for_notifications(std::chrono::milliseconds timeout);

 private:
  pg_conn* pg_ = nullptr;
};

// Prepares every registered statement (db::Query) on `c` and answers what is wrong with any, one line
// each: a statement the schema refuses, or a result with two columns of one name (a row's JSON would
// carry the member twice, and a helper read by name would read the wrong one).
std::vector<std::string> statement_problems(BlockingConnection& c);

// The statements of a SQL script, each without its final semicolon: splits at semicolons outside
// quotes ('…', "…", $tag$…$tag$) and comments (-- …, /* … */, nested).
std::vector<std::string> split_sql(std::string_view script);

}  // namespace spectra::db
