#pragma once
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

 private:
  pg_conn* pg_ = nullptr;
};

// The statements of a SQL script, each without its final semicolon: splits at semicolons outside
// quotes ('…', "…", $tag$…$tag$) and comments (-- …, /* … */, nested).
std::vector<std::string> split_sql(std::string_view script);

}  // namespace spectra::db
