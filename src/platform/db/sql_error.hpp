#pragma once
#include <stdexcept>
#include <string>

#include "platform/error.hpp"

struct pg_result;

namespace spectra::db {

class Constraint;

// A statement PostgreSQL refused, with its SQLSTATE and the fields a handler may map to a message.
class SqlError : public std::runtime_error {
 public:
  SqlError(std::string message, std::string sqlstate, std::string constraint = {}, std::string column = {})
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)), constraint_(std::move(constraint)),
        column_(std::move(column)) {}
  static SqlError from_result(const pg_result* r);

  const std::string& sqlstate() const noexcept { return sqlstate_; }
  const std::string& constraint() const noexcept { return constraint_; }
  const std::string& column() const noexcept { return column_; }
  // Whether the statement broke this declared constraint (on one server or on a Citus shard).
  bool violates(const Constraint& c) const;

 private:
  std::string sqlstate_, constraint_, column_;
};

// What a violated constraint means to a client: the field it names and a sentence. Declared beside
// the SQL that may violate it, with static storage; together the declarations are the one table
// to_api_error reads (a duplicate barcode → 409 naming barcode, a bad reference → 422 naming it).
class Constraint {
 public:
  // message: what the field's error says ("" for the default: "already exists", "does not exist in
  // your organization", or the detail).
  Constraint(std::string name, std::string field, std::string detail, std::string message = {});
  Constraint(const Constraint&) = delete;
  Constraint& operator=(const Constraint&) = delete;
  const std::string name, field, detail, message;
};

// The client-facing error for a refused statement: status from the SQLSTATE table, a plain detail,
// the SQL message only in the log detail.
ApiError to_api_error(const SqlError& e);

}  // namespace spectra::db
