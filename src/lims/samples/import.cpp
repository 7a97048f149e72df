// CSV import: every row becomes a sample, or none does. Each row is checked as a create would check it
// (the same declaration, NewSample), then against the file and the organization (barcodes taken,
// materials and parents that exist); all problems come back at once, each naming its row and field.
// The samples and their creation events then go in as multi-row inserts (db::InsertBatch), in one
// pipeline of one transaction.
#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <utility>

#include "kit/csv.hpp"
#include "kit/data.hpp"
#include "lims/samples/handlers.hpp"
#include "lims/samples/rules.hpp"
#include "platform/crypto.hpp"
#include "platform/db/batch.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::samples {
namespace {

constexpr std::size_t max_rows = 10000;
// A file of this many rows or more is followed by db::Tx::replan before its custody events.
constexpr std::size_t replan_after_rows = 1000;
// The create fields, plus `id` (a row's key within the file, so that parent_sample_id may name another
// row) and `created_at` (in every export; a sample's creation time is when it is imported).
const std::set<std::string, std::less<>> create_columns = {"name",     "barcode", "sample_type",   "material_id",
                                                          "parent_sample_id", "location", "status", "extra_metadata"};
const std::set<std::string, std::less<>> reference_columns = {"id", "created_at"};

const db::Query taken_barcodes_q{"samples_import_taken_barcodes",
                                 "SELECT barcode FROM samples WHERE organization_id = $1 AND barcode = ANY($2::text[])"
                                 " AND NOT is_deleted"};
const db::Query live_materials_q{"samples_import_live_materials",
                                 "SELECT id::text FROM materials WHERE organization_id = $1 AND id = ANY($2::uuid[])"
                                 " AND NOT is_deleted FOR SHARE"};
const db::Query live_samples_q{"samples_import_live_samples",
                               "SELECT id::text FROM samples WHERE organization_id = $1 AND id = ANY($2::uuid[])"
                               " AND NOT is_deleted FOR SHARE"};
// A row of the three checks above: the barcode or id found.
struct FoundKey {
  std::string key;
};
const db::Decoder<FoundKey> taken_barcode{taken_barcodes_q, {{"barcode", &FoundKey::key}}};
const db::Decoder<FoundKey> live_material{live_materials_q, {{"id", &FoundKey::key}}};
const db::Decoder<FoundKey> live_sample{live_samples_q, {{"id", &FoundKey::key}}};
// The samples and their creation events, the first links of their custody chains.
const db::InsertBatch insert_samples{
    "samples_import_insert",
    "INSERT INTO samples (organization_id, id, name, barcode, sample_type, material_id, parent_sample_id, location,"
    "                     status, custody_seq, created_by, extra_metadata)",
    "($1, ?::uuid, ?, ?, ?, ?::uuid, ?::uuid, ?, ?, 1, ?::uuid, ?::jsonb)"};
const db::InsertBatch insert_events{
    "samples_import_events",
    "INSERT INTO custody_events (organization_id, sample_id, seq, event_type, to_location, actor_id)",
    "($1, ?::uuid, 1, 'create', ?, ?::uuid)"};

struct Row {
  std::size_t number = 0;  // 1 = the first row after the header
  NewSample sample;
  std::string id;                         // the new sample's
  std::optional<std::string> file_id;     // the row's `id` cell
  std::optional<std::string> parent_row;  // the file id of a parent within the file
};

class Collector {
 public:
  void add(std::size_t row, std::string_view field, std::string message) {
    errors_.with_field("rows[" + std::to_string(row) + "]" + (field.empty() ? "" : "." + std::string(field)),
                         "row " + std::to_string(row) + (field.empty() ? "" : ", " + std::string(field)) + ": " +
                             std::move(message));
    any_ = true;
  }
  void header(std::string field, std::string message) {
    errors_.with_field("header" + (field.empty() ? "" : "." + field), std::move(message));
    any_ = true;
  }
  void raise_if_any() {
    if (any_) throw std::move(errors_);
  }

 private:
  ApiError errors_ = unprocessable("The file was not imported: no sample was created");
  bool any_ = false;
};

// A row's cells as the JSON a create takes: an empty cell is an absent field.
std::optional<std::string> row_json(const std::vector<std::string>& header, const std::vector<std::string>& cells,
                                    std::size_t number, Collector& problems) {
  json::object o;
  for (std::size_t c = 0; c < header.size(); ++c) {
    if (cells[c].empty() || !create_columns.contains(header[c])) continue;
    if (header[c] != "extra_metadata") {
      o[header[c]] = cells[c];
      continue;
    }
    boost::system::error_code ec;
    auto v = json::parse(cells[c], ec);
    if (ec || !v.is_object()) {
      problems.add(number, "extra_metadata", "must be a JSON object");
      return std::nullopt;
    }
    o[header[c]] = std::move(v);
  }
  return json_text(o);
}

// Checks the header and every row on its own; the rows that passed.
std::vector<Row> read_rows(const kit::csv::Table& t, Collector& problems) {
  for (const auto& p : t.problems) {
    if (p.row == 0) problems.header(p.column, p.message);
    else problems.add(p.row, p.column, p.message);
  }
  problems.raise_if_any();
  std::set<std::string, std::less<>> seen;
  for (const auto& h : t.header) {
    seen.insert(h);
    if (!create_columns.contains(h) && !reference_columns.contains(h))
      problems.header(h, "is not a sample field (the columns are the create fields: name, sample_type, barcode, "
                         "material_id, parent_sample_id, location, status, extra_metadata; and id, created_at)");
  }
  for (const char* required : {"name", "sample_type"})
    if (!seen.contains(required)) problems.header(required, "is a required column");
  problems.raise_if_any();
  if (t.rows.empty()) problems.header("", "the file has no rows");
  problems.raise_if_any();

  std::size_t id_column = t.header.size();
  for (std::size_t c = 0; c < t.header.size(); ++c)
    if (t.header[c] == "id") id_column = c;
  std::vector<Row> rows;
  rows.reserve(t.rows.size());
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    Row row{i + 1, {}, crypto::uuid_v4(), {}, {}};
    if (id_column < t.header.size() && !t.rows[i][id_column].empty()) {
      if (!crypto::is_uuid(t.rows[i][id_column])) problems.add(row.number, "id", "must be a UUID");
      row.file_id = t.rows[i][id_column];
    }
    auto body = row_json(t.header, t.rows[i], row.number, problems);
    if (!body) continue;
    try {
      row.sample = kit::input_of<NewSample>().from_json(*body);
    } catch (const ApiError& e) {
      for (const auto& f : e.field_errors()) problems.add(row.number, f.field, f.message);
      continue;
    }
    // UUIDs compare as PostgreSQL prints them: in lower case.
    for (auto* id : {&row.file_id, &row.sample.material_id, &row.sample.parent_sample_id})
      if (*id) std::transform((*id)->begin(), (*id)->end(), (*id)->begin(), [](unsigned char c) { return std::tolower(c); });
    rows.push_back(std::move(row));
  }
  problems.raise_if_any();
  return rows;
}

// Rows across the file: barcodes that repeat, ids that repeat, parents within the file. Generates the
// missing barcodes; answers the parents the organization must already have.
std::vector<std::string> link_rows(std::vector<Row>& rows, Collector& problems) {
  std::map<std::string, std::size_t, std::less<>> barcode_row, id_row;
  for (auto& r : rows) {
    if (!r.sample.barcode) r.sample.barcode = generate_barcode();
    if (auto [at, fresh] = barcode_row.emplace(*r.sample.barcode, r.number); !fresh)
      problems.add(r.number, "barcode", "repeats the barcode of row " + std::to_string(at->second));
    if (r.file_id)
      if (auto [at, fresh] = id_row.emplace(*r.file_id, r.number); !fresh)
        problems.add(r.number, "id", "repeats the id of row " + std::to_string(at->second));
  }
  std::vector<std::string> outside;
  for (auto& r : rows) {
    if (!r.sample.parent_sample_id) continue;
    if (id_row.contains(*r.sample.parent_sample_id)) {
      if (r.file_id == r.sample.parent_sample_id) problems.add(r.number, "parent_sample_id", "cannot be the row itself");
      r.parent_row = r.sample.parent_sample_id;
    } else {
      outside.push_back(*r.sample.parent_sample_id);
    }
  }
  return outside;
}

// Parents before their children; a cycle within the file is a problem of each row on it.
std::vector<std::size_t> parents_first(const std::vector<Row>& rows, Collector& problems) {
  std::map<std::string, std::size_t, std::less<>> index;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i].file_id) index.emplace(*rows[i].file_id, i);
  std::vector<int> state(rows.size(), 0);  // 0 unvisited, 1 on the path, 2 placed
  std::vector<std::size_t> order;
  order.reserve(rows.size());
  for (std::size_t start = 0; start < rows.size(); ++start) {
    std::vector<std::size_t> path;
    std::size_t at = start;
    bool cycle = false;
    for (;;) {  // up the parents until a placed row, the top, or the path itself
      if (state[at] == 2) break;
      if (state[at] == 1) {
        cycle = true;
        break;
      }
      state[at] = 1;
      path.push_back(at);
      if (!rows[at].parent_row) break;
      at = index.at(*rows[at].parent_row);
    }
    if (cycle)
      for (auto it = std::find(path.begin(), path.end(), at); it != path.end(); ++it)
        problems.add(rows[*it].number, "parent_sample_id", "forms a cycle of parents within the file");
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      state[*it] = 2;
      order.push_back(*it);
    }
  }
  return order;
}

}  // namespace

Reply import_samples(RequestContext& ctx, kit::Upload file) {
  std::string ct(file.content_type.substr(0, file.content_type.find(';')));
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return std::tolower(c); });
  ct.erase(ct.find_last_not_of(' ') + 1);
  if (ct != "text/csv") throw ApiError(ErrorCode::unsupported_media, "The body must be text/csv");
  Collector problems;
  auto rows = read_rows(kit::csv::read(file.bytes, max_rows), problems);
  const auto outside_parents = link_rows(rows, problems);
  const auto order = parents_first(rows, problems);
  problems.raise_if_any();

  std::vector<std::string> barcodes, materials;
  for (const auto& r : rows) {
    barcodes.push_back(*r.sample.barcode);
    if (r.sample.material_id) materials.push_back(*r.sample.material_id);
  }
  std::map<std::string, std::string, std::less<>> new_id_of;  // file id → new id
  for (const auto& r : rows)
    if (r.file_id) new_id_of.emplace(*r.file_id, r.id);

  auto ids = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::vector<std::string>> {
    std::vector<db::Statement> checks;
    checks.push_back({&taken_barcodes_q, db::Params().add_array(barcodes)});
    checks.push_back({&live_materials_q, db::Params().add_array(materials)});
    checks.push_back({&live_samples_q, db::Params().add_array(outside_parents)});
    auto found = co_await w.exec_all(std::move(checks));
    auto set_of = [](const db::Decoder<FoundKey>& decode, const db::Result& r) {
      std::set<std::string, std::less<>> s;
      for (int i = 0; i < r.rows(); ++i) s.insert(decode(r, i).key);
      return s;
    };
    const auto taken = set_of(taken_barcode, found[0]), live_materials = set_of(live_material, found[1]),
               live_parents = set_of(live_sample, found[2]);
    for (const auto& r : rows) {
      if (taken.contains(*r.sample.barcode)) problems.add(r.number, "barcode", "already belongs to a sample");
      if (r.sample.material_id && !live_materials.contains(*r.sample.material_id))
        problems.add(r.number, "material_id", "does not exist in your organization");
      if (r.sample.parent_sample_id && !r.parent_row && !live_parents.contains(*r.sample.parent_sample_id))
        problems.add(r.number, "parent_sample_id", "is neither a row of the file nor a sample of your organization");
    }
    problems.raise_if_any();

    std::vector<db::Params> samples, events;
    samples.reserve(rows.size());
    events.reserve(rows.size());
    for (const auto i : order) {  // parents first: each row's parent exists when the row arrives
      const auto& r = rows[i];
      const auto parent = r.parent_row ? std::optional(new_id_of.at(*r.parent_row)) : r.sample.parent_sample_id;
      samples.push_back(db::Params(r.id, r.sample.name, *r.sample.barcode, r.sample.sample_type, r.sample.material_id,
                                   parent, r.sample.location, r.sample.status, ctx.principal.user_id,
                                   r.sample.extra_metadata));
      events.push_back(db::Params(r.id, r.sample.location, ctx.principal.user_id));
    }
    auto st = insert_samples.statements(samples);
    if (samples.size() >= replan_after_rows) {  // the events reference the samples by foreign key
      co_await w.exec_all(std::exchange(st, {}));
      co_await w.replan();
    }
    for (auto& e : insert_events.statements(events)) st.push_back(std::move(e));
    co_await w.exec_all(std::move(st));
    // Each sample's history starts with its creation, as a sample made one at a time does.
    std::vector<std::string> in_file_order;
    for (const auto& r : rows) {
      in_file_order.push_back(r.id);
      const auto& n = r.sample;
      auto opt = [](const std::optional<std::string>& v) { return v ? json::value(*v) : json::value(nullptr); };
      json::object after{{"id", r.id},
                         {"name", n.name},
                         {"barcode", *n.barcode},
                         {"sample_type", n.sample_type},
                         {"material_id", opt(n.material_id)},
                         {"parent_sample_id", r.parent_row ? json::value(new_id_of.at(*r.parent_row)) : opt(n.parent_sample_id)},
                         {"location", opt(n.location)},
                         {"status", n.status},
                         {"extra_metadata", json::parse(n.extra_metadata)},
                         {"imported_from_row", r.number}};
      w.audit("sample.create", "sample", r.id, std::nullopt, json_text(after));
    }
    json::array listed(in_file_order.begin(), in_file_order.end());
    w.audit("sample.import", "sample", std::nullopt, std::nullopt,
            json_text(json::object{{"created", in_file_order.size()}, {"ids", listed}}));
    co_return in_file_order;
  });
  json::array listed(ids.begin(), ids.end());
  co_return http::Response::json(201, json_text(json::object{{"created", ids.size()}, {"ids", std::move(listed)}}));
}

}  // namespace spectra::samples
