#pragma once
// Scale-out on Citus. The schema's convention decides where each table goes:
//   * `organizations` and every table of the schema `directory` (the pre-tenant lookups) become
//     reference tables, copied to every node;
//   * every table of `public` with an organization_id column is a tenant table, distributed by
//     organization_id and colocated with `users`, so that one organization's rows share one shard group
//     and a request's statements (which all filter by organization_id) are routed to one node.
// Anything else in `public` (besides the migrations table) breaks the convention and is reported.
#include <ostream>
#include <string>
#include <vector>

namespace spectra::db {

class BlockingConnection;

// Whether the citus extension is installed in the connected database.
bool citus_installed(BlockingConnection& conn);
// Whether `spectra db distribute` has run here (organizations is a Citus reference table).
bool is_distributed(BlockingConnection& conn);

// What keeps the schema from being distributed, in words, one line per table: a unique key or
// primary key of a tenant table without organization_id, an identity column, a table that is neither
// tenant nor directory. Checked on any PostgreSQL; empty when the schema follows the convention.
std::vector<std::string> schema_rule_violations(BlockingConnection& conn);

// On a Citus coordinator: reference tables and colocated distributed tables per the convention, in
// one transaction, in foreign-key order; tables already placed are left as they are (idempotent).
// Sets the database's Citus settings the server relies on. Throws std::runtime_error when Citus is
// absent, when the schema breaks the convention, or when a table ends up misplaced.
void distribute(BlockingConnection& conn, std::ostream& out);

// After distribute: tables not placed as the convention says (empty when all are). Needs Citus.
std::vector<std::string> distribution_problems(BlockingConnection& conn);

}  // namespace spectra::db
