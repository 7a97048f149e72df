#include "platform/db/sql_error.hpp"

#include <libpq-fe.h>

#include <map>
#include <mutex>

namespace spectra::db {
namespace {

struct ConstraintTable {
  std::mutex mutex;
  std::map<std::string, const Constraint*, std::less<>> by_name;
};
ConstraintTable& constraints() {
  static ConstraintTable t;
  return t;
}
const Constraint* find_constraint(const std::string& name) {
  auto& t = constraints();
  std::lock_guard lock(t.mutex);
  auto it = t.by_name.find(name);
  return it == t.by_name.end() ? nullptr : it->second;
}

// The declared constraint a refused statement names. On Citus a shard's constraint carries the
// shard's number ("users_pkey_102008"): the declared constraint is the name without it.
const Constraint* declared(const std::string& constraint) {
  if (constraint.empty()) return nullptr;
  if (const auto* known = find_constraint(constraint)) return known;
  const auto underscore = constraint.find_last_of('_');
  if (underscore != std::string::npos && underscore + 1 < constraint.size() &&
      constraint.find_first_not_of("0123456789", underscore + 1) == std::string::npos)
    return find_constraint(constraint.substr(0, underscore));
  return nullptr;
}

}  // namespace

bool SqlError::violates(const Constraint& c) const { return declared(constraint_) == &c; }

Constraint::Constraint(std::string n, std::string f, std::string d, std::string m)
    : name(std::move(n)), field(std::move(f)), detail(std::move(d)), message(std::move(m)) {
  auto& t = constraints();
  std::lock_guard lock(t.mutex);
  t.by_name[name] = this;
}

SqlError SqlError::from_result(const pg_result* r) {
  auto field = [r](int code) {
    const char* v = PQresultErrorField(r, code);
    return std::string(v ? v : "");
  };
  std::string msg = field(PG_DIAG_MESSAGE_PRIMARY);
  if (msg.empty()) msg = PQresultErrorMessage(r);
  std::string sqlstate = field(PG_DIAG_SQLSTATE), constraint = field(PG_DIAG_CONSTRAINT_NAME),
              column = field(PG_DIAG_COLUMN_NAME);
  // Citus passes a worker's error on without these fields; its message still names them
  // ("… violates check constraint "name"", "null value in column "name" …").
  if (sqlstate.rfind("23", 0) == 0) {
    auto quoted_after = [&msg](std::string_view word) {
      const auto at = msg.find(word);
      if (at == std::string::npos) return std::string();
      const auto open = msg.find('"', at + word.size());
      const auto close = open == std::string::npos ? open : msg.find('"', open + 1);
      return close == std::string::npos ? std::string() : msg.substr(open + 1, close - open - 1);
    };
    if (constraint.empty()) constraint = quoted_after("constraint ");
    if (column.empty() && sqlstate == "23502") column = quoted_after("column ");
  }
  return SqlError(msg, sqlstate, constraint, column);
}

ApiError to_api_error(const SqlError& e) {
  const auto code = error_code_for_sqlstate(e.sqlstate());
  const std::string log = "SQLSTATE " + e.sqlstate() + ": " + e.what() +
                          (e.constraint().empty() ? "" : " (constraint " + e.constraint() + ")");
  std::string detail;
  const auto& s = e.sqlstate();
  if (s == "23505") detail = "A record with these values already exists";
  else if (s == "23503") detail = "A referenced record does not exist in your organization";
  else if (s == "23514") detail = "A value is outside its allowed range";
  else if (s == "23502") detail = "A required value is missing";
  else if (s == "40001" || s == "40P01") detail = "The record was changed concurrently; try again";
  else if (s == "28000") detail = e.what();  // raised by app.begin_request with a message meant for the caller
  else if (s == "P0002") detail = "Not found";
  else if (code == ErrorCode::unprocessable) detail = "A value is invalid";
  else if (code == ErrorCode::forbidden) detail = "Not allowed";
  else if (code == ErrorCode::unavailable) detail = "The database is unavailable";
  else detail = "Internal server error";
  std::string constraint = e.constraint();
  const Constraint* known = declared(constraint);
  if (known) constraint = known->name;
  if (known) detail = known->detail;
  ApiError out(code, detail, log);
  if (!constraint.empty() && (code == ErrorCode::conflict || code == ErrorCode::unprocessable)) {
    std::string field_message = known && !known->message.empty() ? known->message
                                : s == "23505"                     ? "already exists"
                                : s == "23503"                     ? "does not exist in your organization"
                                                                   : detail;
    out.with_field(known ? known->field : e.column().empty() ? constraint : e.column(), std::move(field_message));
  }
  if (code == ErrorCode::unauthorized) out.with_header("WWW-Authenticate", "Bearer");
  return out;
}

}  // namespace spectra::db
