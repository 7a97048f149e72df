#pragma once
// Many rows in one INSERT … VALUES (…), (…): the form Citus routes to the one shard of the
// organization. (An INSERT … SELECT FROM unnest(arrays) would go through the coordinator as a COPY,
// which row-level security refuses.) The statement is prepared once per power-of-two row count, 1 to
// 512, so that any number of rows is a handful of statements, sent in one pipeline of the caller's
// transaction: 10,000 rows are 21 statements (19 of 512, then 256 and 16), one round trip.
#include <memory>
#include <string>
#include <vector>

#include "platform/db/result.hpp"

namespace spectra::db {

class InsertBatch {
 public:
  // head: "INSERT INTO t (organization_id, a, b, c)"; row: one row's values, where `$1` is the
  // organization (bound by the transaction) and each `?` is the row's next parameter:
  // "($1, ?, ?::jsonb, 'fixed')". tail: what follows the rows ("", " ON CONFLICT DO NOTHING", ...).
  InsertBatch(std::string name, std::string head, std::string row, std::string tail = {});
  ~InsertBatch();
  InsertBatch(const InsertBatch&) = delete;
  InsertBatch& operator=(const InsertBatch&) = delete;

  // The statements that insert `rows` (each with one parameter per `?`), in order.
  std::vector<Statement> statements(const std::vector<Params>& rows) const;
  int parameters_per_row() const noexcept { return per_row_; }

 private:
  static constexpr int max_rows = 512;
  int per_row_ = 0;
  std::vector<std::unique_ptr<Query>> by_size_;  // [k]: 2^k rows
};

}  // namespace spectra::db
