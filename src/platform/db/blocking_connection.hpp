#pragma once
// A blocking connection for the command line (migrations, seed, audit verify) and tests; never used
// on the server's I/O threads.
#include <string>
#include <string_view>

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
  // Several statements in one simple query (migration files).
  void exec_script(const std::string& sql);
  std::string user() const;

 private:
  pg_conn* pg_ = nullptr;
};

}  // namespace spectra::db
