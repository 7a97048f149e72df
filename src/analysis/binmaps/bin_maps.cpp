// A run's die bin map: a SEMI G85 XML map read off the I/O threads (g85.hpp: no DTD, bounded size and
// depth, rows × columns and bin counts checked), stored in one transaction as the map's header and bins
// and one row per die (the null bin is not stored), and answered as JSON or written back as G85 XML
// that reads to the same map. One map per run (409 for a second); the run takes it while it takes
// results (RUNNING or COMPLETED), share-locked like a result.
#include <boost/json.hpp>

#include "analysis/binmaps/g85.hpp"
#include "analysis/binmaps/handlers.hpp"
#include "analysis/binmaps/stored.hpp"
#include "analysis/runs/rules.hpp"
#include "kit/data.hpp"
#include "platform/blocking.hpp"
#include "platform/crypto.hpp"
#include "platform/db/batch.hpp"
#include "platform/db/row_json.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::binmaps {
namespace {

// The most dies a run's map holds: a 300 mm wafer of 1 mm² dies has about 70,000; the rows of one
// transaction stay in the tens of megabytes.
constexpr std::int64_t max_stored_dies = 250000;

const db::Query lock_run_q{"bin_maps_lock_run",
                           "SELECT r.status FROM runs r WHERE r.organization_id = $1 AND r.id = $2 FOR SHARE"};
struct LockedRun {
  std::string status;
};
const db::Decoder<LockedRun> locked_run{lock_run_q, {{"status", &LockedRun::status}}};
const db::Query insert_q{
    "bin_maps_insert",
    "INSERT INTO bin_maps (organization_id, id, run_id, wafer_id, lot_id, product_id, format_revision, bin_type, null_bin,"
    "                      rows, columns, wafer_size, device_size_x, device_size_y, orientation, origin_location,"
    "                      reference_x, reference_y, bins, attributes, tested, passed, created_by)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::int, $11::int, $12::float8, $13::float8, $14::float8, $15::int,"
    "         $16::int, $17::int, $18::int, $19::jsonb, $20::jsonb, $21::int, $22::int, $23)"};
const db::InsertBatch insert_dies{"bin_map_dies_insert",
                                  "INSERT INTO bin_map_dies (organization_id, bin_map_id, row_index, column_index, bin_code)",
                                  "($1, ?::uuid, ?::int, ?::int, ?)"};
const db::Constraint map_exists{"bin_maps_run_key", "run_id", "The run has a bin map already"};

// The run ($2) and its map's header (NULL id: none).
const db::Query map_q{
    "bin_maps_get",
    "SELECT m.id, r.id AS run_id, m.wafer_id, m.lot_id, m.product_id, m.format_revision, m.bin_type, m.null_bin, m.rows,"
    "       m.columns, m.wafer_size, m.device_size_x, m.device_size_y, m.orientation, m.origin_location, m.reference_x,"
    "       m.reference_y, m.bins, m.tested, m.passed, m.created_by, m.created_at,"
    "       m.bins::text AS _bins, m.attributes::text AS _attributes"
    " FROM runs r LEFT JOIN bin_maps m ON m.organization_id = $1 AND m.run_id = r.id"
    " WHERE r.organization_id = $1 AND r.id = $2"};
struct Header {
  std::optional<std::string> id, wafer_id, lot_id, product_id, format_revision, bin_type, null_bin;
  std::optional<std::int64_t> rows, columns, orientation, origin_location, reference_x, reference_y;
  std::optional<double> wafer_size, device_size_x, device_size_y;
  std::optional<std::string> bins, attributes;
};
const db::Decoder<Header> header{
    map_q,
    {{"id", &Header::id}, {"wafer_id", &Header::wafer_id}, {"lot_id", &Header::lot_id}, {"product_id", &Header::product_id},
     {"format_revision", &Header::format_revision}, {"bin_type", &Header::bin_type}, {"null_bin", &Header::null_bin},
     {"rows", &Header::rows}, {"columns", &Header::columns}, {"orientation", &Header::orientation},
     {"origin_location", &Header::origin_location}, {"reference_x", &Header::reference_x},
     {"reference_y", &Header::reference_y}, {"wafer_size", &Header::wafer_size},
     {"device_size_x", &Header::device_size_x}, {"device_size_y", &Header::device_size_y}, {"_bins", &Header::bins},
     {"_attributes", &Header::attributes}}};
const db::Query dies_q{
    "bin_maps_dies",
    "SELECT d.row_index, d.column_index, d.bin_code FROM bin_map_dies d"
    " JOIN bin_maps m ON m.organization_id = $1 AND m.id = d.bin_map_id"
    " WHERE d.organization_id = $1 AND m.run_id = $2 ORDER BY d.row_index, d.column_index"};
struct Die {
  std::int64_t row_index = 0, column_index = 0;
  std::string bin_code;
};
const db::Decoder<Die> die{
    dies_q, {{"row_index", &Die::row_index}, {"column_index", &Die::column_index}, {"bin_code", &Die::bin_code}}};

json::array pairs_json(const std::vector<std::pair<std::string, std::string>>& pairs) {
  json::array a;
  for (const auto& [k, v] : pairs) a.emplace_back(json::array{json::value(k), json::value(v)});
  return a;
}
std::vector<std::pair<std::string, std::string>> pairs_of(const json::value* v) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!v || !v->is_array()) return out;
  for (const auto& p : v->as_array())
    out.emplace_back(std::string(p.as_array()[0].as_string()), std::string(p.as_array()[1].as_string()));
  return out;
}

std::optional<std::int64_t> wide(const std::optional<int>& v) {
  return v ? std::optional<std::int64_t>(*v) : std::nullopt;
}
std::optional<int> narrow(const std::optional<std::int64_t>& v) {
  return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
}

// The stored map, whole again.
BinMap map_of(const Header& h, const db::Result& dies) {
  BinMap m;
  m.wafer_id = h.wafer_id.value_or("");
  m.lot_id = h.lot_id.value_or("");
  m.product_id = h.product_id.value_or("");
  m.format_revision = h.format_revision.value_or("");
  m.bin_type = *h.bin_type;
  m.null_bin = *h.null_bin;
  m.rows = static_cast<int>(*h.rows);
  m.columns = static_cast<int>(*h.columns);
  m.wafer_size = h.wafer_size;
  m.device_size_x = h.device_size_x;
  m.device_size_y = h.device_size_y;
  m.orientation = static_cast<int>(h.orientation.value_or(0));
  m.origin_location = static_cast<int>(h.origin_location.value_or(0));
  m.reference_x = narrow(h.reference_x);
  m.reference_y = narrow(h.reference_y);
  const json::value bins = json::parse(*h.bins);  // named: a loop over a temporary's member outlives it
  for (const auto& b : bins.as_array()) {
    const auto& o = b.as_object();
    m.bins.push_back({std::string(o.at("code").as_string()), o.at("count").to_number<std::int64_t>(),
                      std::string(o.at("quality").as_string()), std::string(o.at("description").as_string())});
  }
  const json::value attributes = json::parse(*h.attributes);
  m.other_map_attributes = pairs_of(attributes.as_object().if_contains("map"));
  m.other_device_attributes = pairs_of(attributes.as_object().if_contains("device"));
  m.dies.assign(static_cast<std::size_t>(m.rows) * static_cast<std::size_t>(m.columns), m.null_bin);
  for (auto& d : die.all(dies)) {
    m.dies[static_cast<std::size_t>(d.row_index) * static_cast<std::size_t>(m.columns) +
           static_cast<std::size_t>(d.column_index)] = std::move(d.bin_code);
  }
  return m;
}

}  // namespace

std::string bins_json(const BinMap& m) {
  json::array bins;
  for (const auto& b : m.bins)
    bins.emplace_back(json::object{{"code", b.code}, {"count", b.count}, {"quality", b.quality}, {"description", b.description}});
  return json_text(bins);
}

std::string attributes_json(const BinMap& m) {
  return json_text(json::object{{"map", pairs_json(m.other_map_attributes)}, {"device", pairs_json(m.other_device_attributes)}});
}

kit::Input<BinMapQuery> BinMapQuery::input() {
  return {"BinMapQuery",
          {kit::field("format", &BinMapQuery::format).one_of({"json", "g85"}).describe("g85 answers SEMI G85 XML")}};
}

kit::Reply create_bin_map(kit::RequestContext& ctx, kit::Path<kit::Id> p, kit::Upload xml) {
  std::string type(xml.content_type.substr(0, xml.content_type.find(';')));
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (type != "application/xml" && type != "text/xml")
    throw ApiError(ErrorCode::unsupported_media, "The body must be a SEMI G85 map as application/xml");
  auto bytes = std::make_shared<const std::string>(xml.bytes);
  auto parse = [bytes] { return read_g85(*bytes); };
  const WorkShare share = ctx.share();
  Read read = co_await ctx.deps.blocking->run(std::move(parse), share);
  if (!read.map) {
    ApiError bad = unprocessable("The bin map was not stored: the G85 map cannot be read as given");
    for (const auto& problem : read.problems) bad.with_field(problem.where, problem.message);
    throw std::move(bad);
  }
  const BinMap& m = *read.map;
  if (static_cast<std::int64_t>(m.rows) * m.columns > max_stored_dies)
    throw std::move(unprocessable("The bin map was not stored: it is larger than a run's map may be")
                        .with_field("Device.Rows", "Rows x Columns is more than 250,000 dies"));
  const Yield y = yield_of(m);
  const std::string id = crypto::uuid_v4();
  auto empty_null = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };

  co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<void> {
    auto run = co_await w.exec(lock_run_q, db::Params(p.id));
    if (run.empty()) throw not_found("No such run");
    const LockedRun locked = locked_run(run);
    if (!runs::takes_results(locked.status))
      throw conflict("The run is " + locked.status + "; a bin map is stored on a RUNNING or COMPLETED run");
    std::vector<db::Statement> st;
    st.push_back({&insert_q, db::Params(id, p.id, empty_null(m.wafer_id), empty_null(m.lot_id), empty_null(m.product_id),
                                        empty_null(m.format_revision), m.bin_type, m.null_bin, m.rows, m.columns,
                                        m.wafer_size, m.device_size_x, m.device_size_y, m.orientation,
                                        m.origin_location, wide(m.reference_x), wide(m.reference_y), bins_json(m),
                                        attributes_json(m), y.tested, y.pass, ctx.principal.user_id)});
    std::vector<db::Params> dies;
    dies.reserve(static_cast<std::size_t>(y.tested));
    for (int r = 0; r < m.rows; ++r)
      for (int c = 0; c < m.columns; ++c) {
        const std::string& code = m.dies[static_cast<std::size_t>(r) * static_cast<std::size_t>(m.columns) +
                                         static_cast<std::size_t>(c)];
        if (code != m.null_bin) dies.push_back(db::Params(id, r, c, code));
      }
    for (auto& s : insert_dies.statements(std::move(dies))) st.push_back(std::move(s));
    const json::object summary{{"id", id},           {"run_id", p.id},     {"wafer_id", m.wafer_id},
                               {"rows", m.rows},     {"columns", m.columns}, {"bin_type", m.bin_type},
                               {"tested", y.tested}, {"passed", y.pass}};
    w.audit("bin_map.create", "bin_map", id, std::nullopt, json_text(summary));
    co_await w.commit(std::move(st));
  });
  kit::QueryString<BinMapQuery> as_json;
  http::Response stored = co_await get_bin_map(ctx, p, as_json);
  stored.status = 201;
  co_return stored;
}

kit::Reply get_bin_map(kit::RequestContext& ctx, kit::Path<kit::Id> p, kit::QueryString<BinMapQuery> q) {
  auto read = co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_only,
                                    [&](db::Tx& tx) -> asio::awaitable<std::vector<db::Result>> {
                                      std::vector<db::Statement> st;
                                      st.push_back({&map_q, db::Params(p.id)});
                                      st.push_back({&dies_q, db::Params(p.id)});
                                      co_return co_await tx.commit(std::move(st));
                                    });
  if (read[0].empty()) throw not_found("No such run");
  const Header h = header(read[0]);
  if (!h.id) throw not_found("The run has no bin map");
  const BinMap m = map_of(h, read[1]);
  if (q.format && *q.format == "g85") {
    http::Response res;
    res.status = 200;
    res.body = write_g85(m);
    res.content_type = "application/xml";
    res.header("Content-Disposition", "attachment; filename=\"bin-map.xml\"");
    co_return res;
  }
  const Yield y = yield_of(m);
  std::string out = db::row_json(read[0]);
  out.pop_back();  // the header's object, continued
  out += ",\"yield\":" + json_text(json::object{{"tested", y.tested}, {"pass", y.pass},
                                                {"yield_pct", y.yield_pct ? json::value(*y.yield_pct) : json::value(nullptr)}});
  out += ",\"dies\":[";
  for (int r = 0; r < m.rows; ++r) {
    out += r ? ",[" : "[";
    for (int c = 0; c < m.columns; ++c) {
      if (c) out += ',';
      const std::string& code = m.dies[static_cast<std::size_t>(r) * static_cast<std::size_t>(m.columns) +
                                       static_cast<std::size_t>(c)];
      if (code == m.null_bin)
        out += "null";
      else
        db::append_json_string(out, code);
    }
    out += ']';
  }
  out += "]}";
  co_return http::Response::json(200, std::move(out));
}

}  // namespace spectra::binmaps
