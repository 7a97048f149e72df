#include "platform/db/batch.hpp"

#include <stdexcept>

namespace spectra::db {
namespace {

// row with each `?` numbered from `next` on.
std::string numbered(const std::string& row, int& next) {
  std::string out;
  for (char c : row) {
    if (c == '?') out += "$" + std::to_string(next++);
    else out += c;
  }
  return out;
}

}  // namespace

InsertBatch::InsertBatch(std::string name, std::string head, std::string row, std::string tail) {
  for (char c : row) per_row_ += c == '?';
  if (per_row_ == 0) throw std::logic_error("insert batch " + name + ": a row needs parameters");
  for (int rows = 1, k = 0; rows <= max_rows; rows *= 2, ++k) {
    std::string sql = head + " VALUES ";
    int next = 2;  // $1 is the organization
    for (int i = 0; i < rows; ++i) sql += (i ? ", " : "") + numbered(row, next);
    by_size_.push_back(std::make_unique<Query>(name + "_" + std::to_string(rows), sql + tail));
  }
}

InsertBatch::~InsertBatch() = default;

std::vector<Statement> InsertBatch::statements(const std::vector<Params>& rows) const {
  std::vector<Statement> out;
  std::size_t at = 0;
  while (at < rows.size()) {
    int k = static_cast<int>(by_size_.size()) - 1;
    while ((std::size_t{1} << k) > rows.size() - at) --k;
    const std::size_t n = std::size_t{1} << k;
    Params p;
    for (std::size_t i = at; i < at + n; ++i) {
      if (rows[i].values().size() != static_cast<std::size_t>(per_row_))
        throw std::logic_error(by_size_[k]->name + ": a row has the wrong number of parameters");
      for (const auto& v : rows[i].values()) p.add(v);
    }
    out.push_back(Statement{by_size_[k].get(), std::move(p)});
    at += n;
  }
  return out;
}

}  // namespace spectra::db
