// Points of a series: one, or a batch of up to 100,000, judged in order by the Nelson rules as they
// arrive (ingest.hpp), the window continuing from the stored history. A batch is a round trip for the
// series locked with what the rules need (its last positions, its baseline while it fills, its open
// alerts, the runs the points name), then the points (db::InsertBatch: 512 rows a statement), the
// alerts and their links, the series' running statistics, one audit event and COMMIT: one round trip
// for a small batch, and for a large one a round trip per 32 statements or 4 MiB of parameters, each
// made as it is sent. When an alert opens on a hold_on_alert series, its instrument is locked and its
// queued runs are blocked through the lockout (instruments/lockout.hpp) before that, in the same
// transaction. The answer is written from the batch's compact outcome while it is sent, after COMMIT.
#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <memory>
#include <unordered_map>
#include <utility>

#include "analysis/instruments/lockout.hpp"
#include "analysis/spc/feed.hpp"
#include "analysis/spc/handlers.hpp"
#include "analysis/spc/ingest.hpp"
#include "analysis/spc/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/batch.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::spc {
namespace {

const kit::List points_list{{
    .name = "spc_points_list",
    .select = point_shape.sql("p"),
    .from = "spc_datapoints p",
    .alias = "p",
    .where = "p.series_id = $2",
    .sorts = {{"seq", "p.seq", "bigint"}, {"measured_at", "p.measured_at", "timestamptz"}},
    .default_sort = "-seq",
    .always_given = 1,
}};
const db::Query series_exists_q{"spc_points_series_exists",
                                "SELECT 1 FROM spc_series WHERE organization_id = $1 AND id = $2 AND NOT is_deleted"};

// The series, locked: points of one series are judged one batch at a time, in order.
const db::Query lock_series_q{
    "spc_points_lock_series",
    "SELECT chart_type, subgroup_size, center_line, ucl, lcl, baseline_points, range_center, range_ucl, range_lcl,"
    " stat_count, stat_mean, stat_m2, range_sum, range_count, hold_on_alert, instrument_id, name,"
    " to_jsonb(now()) #>> '{}' AS now"
    " FROM spc_series WHERE organization_id = $1 AND id = $2 AND NOT is_deleted FOR UPDATE"};
struct LockedSeries {
  std::string chart_type;
  std::optional<std::int64_t> subgroup_size;  // NULL for I-MR
  std::optional<double> center_line, ucl, lcl;
  std::optional<std::int64_t> baseline_points;
  std::optional<double> range_center, range_ucl, range_lcl;
  std::int64_t stat_count = 0;
  double stat_mean = 0, stat_m2 = 0, range_sum = 0;
  std::int64_t range_count = 0;
  bool hold_on_alert = false;
  std::optional<std::string> instrument_id;
  std::string name, now;
};
const db::Decoder<LockedSeries> locked_series{
    lock_series_q,
    {{"chart_type", &LockedSeries::chart_type}, {"subgroup_size", &LockedSeries::subgroup_size},
     {"center_line", &LockedSeries::center_line}, {"ucl", &LockedSeries::ucl}, {"lcl", &LockedSeries::lcl},
     {"baseline_points", &LockedSeries::baseline_points}, {"range_center", &LockedSeries::range_center},
     {"range_ucl", &LockedSeries::range_ucl}, {"range_lcl", &LockedSeries::range_lcl},
     {"stat_count", &LockedSeries::stat_count}, {"stat_mean", &LockedSeries::stat_mean},
     {"stat_m2", &LockedSeries::stat_m2}, {"range_sum", &LockedSeries::range_sum},
     {"range_count", &LockedSeries::range_count}, {"hold_on_alert", &LockedSeries::hold_on_alert},
     {"instrument_id", &LockedSeries::instrument_id}, {"name", &LockedSeries::name}, {"now", &LockedSeries::now}}};
// The newest points (enough for 15 positions of the largest subgroups and a partial one: 160).
const db::Query history_q{
    "spc_points_history",
    "SELECT id, seq, value FROM spc_datapoints WHERE organization_id = $1 AND series_id = $2 ORDER BY seq DESC LIMIT 160"};
const db::Decoder<StoredPoint> stored_point{
    history_q, {{"id", &StoredPoint::id}, {"seq", &StoredPoint::seq}, {"value", &StoredPoint::value}}};
// While the baseline fills: the stored points of it, oldest first.
const db::Query baseline_q{
    "spc_points_baseline",
    "SELECT value FROM spc_datapoints WHERE organization_id = $1 AND series_id = $2 AND seq <= ("
    " SELECT baseline_points FROM spc_series WHERE organization_id = $1 AND id = $2 AND limits_computed_at IS NULL"
    " AND center_line IS NULL AND stat_count < baseline_points) ORDER BY seq"};
struct BaselineValue {
  double value = 0;
};
const db::Decoder<BaselineValue> baseline_value{baseline_q, {{"value", &BaselineValue::value}}};
// The newest unresolved alert of each rule.
const db::Query open_alerts_q{
    "spc_points_open_alerts",
    "SELECT DISTINCT ON (rule) id, rule, last_seq FROM spc_alerts"
    " WHERE organization_id = $1 AND series_id = $2 AND status <> 'RESOLVED' ORDER BY rule, last_seq DESC"};
struct OpenAlertRow {
  std::string id;
  std::int64_t rule = 0;
  std::int64_t last_seq = 0;
};
const db::Decoder<OpenAlertRow> open_alert{
    open_alerts_q, {{"id", &OpenAlertRow::id}, {"rule", &OpenAlertRow::rule}, {"last_seq", &OpenAlertRow::last_seq}}};
// Which of the runs ($2, a uuid[]) exist in the organization.
const db::Query runs_q{"spc_points_runs", "SELECT id FROM runs WHERE organization_id = $1 AND id = ANY($2::uuid[])"};
struct KnownRun {
  std::string id;
};
const db::Decoder<KnownRun> known_run{runs_q, {{"id", &KnownRun::id}}};
const db::Query lock_instrument_q{"spc_points_lock_instrument",
                                  "SELECT 1 FROM instruments WHERE organization_id = $1 AND id = $2 FOR UPDATE"};

const db::InsertBatch insert_points{
    "spc_points_insert",
    "INSERT INTO spc_datapoints (organization_id, id, series_id, seq, value, measured_at, run_id, subgroup, violations,"
    " recorded_by, extra_metadata)",
    "($1, ?::uuid, ?::uuid, ?::bigint, ?::float8, ?::timestamptz, ?::uuid, ?::int, ?::jsonb, ?::uuid, ?::jsonb)"};
const db::InsertBatch insert_alerts{
    "spc_alerts_insert", "INSERT INTO spc_alerts (organization_id, id, series_id, datapoint_id, rule, last_seq)",
    "($1, ?::uuid, ?::uuid, ?::uuid, ?::int, ?::bigint)"};
const db::InsertBatch insert_links{
    "spc_alert_points_insert", "INSERT INTO spc_alert_points (organization_id, alert_id, datapoint_id)",
    "($1, ?::uuid, ?::uuid)", " ON CONFLICT (organization_id, alert_id, datapoint_id) DO NOTHING"};
// A batch of this many points or more is followed by db::Tx::replan before its alerts and links.
constexpr std::size_t replan_after_points = 1000;
const db::Query extend_alert_q{"spc_alerts_extend",
                               "UPDATE spc_alerts SET last_seq = $3 WHERE organization_id = $1 AND id = $2"};
const db::Query update_stats_q{
    "spc_series_update_stats",
    "UPDATE spc_series SET stat_count = $3, stat_mean = $4::float8, stat_m2 = $5::float8, range_sum = $6::float8,"
    " range_count = $7 WHERE organization_id = $1 AND id = $2"};
const db::Query set_limits_q{
    "spc_series_set_limits",
    "UPDATE spc_series SET center_line = $3::float8, ucl = $4::float8, lcl = $5::float8, range_center = $6::float8,"
    " range_ucl = $7::float8, range_lcl = $8::float8, limits_computed_at = now() WHERE organization_id = $1 AND id = $2"};

SeriesState state_of(const LockedSeries& s) {
  SeriesState st;
  st.chart = s.chart_type == "XBAR-R" ? ChartType::xbar_r : ChartType::individuals;
  // (an X-bar/R series always has a subgroup size: a check constraint)
  st.subgroup_size = st.chart == ChartType::xbar_r ? static_cast<int>(s.subgroup_size.value()) : 1;
  const auto center = s.center_line, ucl = s.ucl, lcl = s.lcl;
  if (center && ucl && lcl) {
    Limits l;
    l.center = *center;
    l.ucl = *ucl;
    l.lcl = *lcl;
    l.sigma = (*ucl - *center) / 3;
    l.range_center = s.range_center.value_or(0);
    l.range_ucl = s.range_ucl.value_or(0);
    l.range_lcl = s.range_lcl.value_or(0);
    st.limits = l;
  }
  if (s.baseline_points) st.baseline_points = static_cast<int>(*s.baseline_points);
  st.stats = Moments{s.stat_count, s.stat_mean, s.stat_m2};
  st.range_sum = s.range_sum;
  st.range_count = s.range_count;
  st.last_seq = st.stats.n;  // (the caller takes the newest stored point's seq when there is one)
  return st;
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// A double as json_text writes it (the shortest text that reads back the same).
void append_number(std::string& out, double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_string(std::string& out, std::string_view s) { out += json::serialize(json::string_view(s.data(), s.size())); }

// A point's id (a UUID: nothing to escape).
void append_id(std::string& out, const std::string& id) {
  out += '"';
  out += id;
  out += '"';
}


// The statements of the last phase, sent a round trip at a time as they are made: at most
// Write::max_statements_per_round_trip, and fewer once their parameters pass max_bytes, so that neither
// the server nor libpq's send buffer (which keeps its largest size for the connection's life) ever
// holds a whole batch's rows (100,000 points, each naming the points of five windows, are 100 MB).
class RoundTrip {
 public:
  static constexpr std::size_t max_bytes = 4 << 20;
  static constexpr std::size_t rows_per_statement = 512;  // InsertBatch's largest statement

  // A row of `batch`; the rows of one table go out 512 to a statement, in order.
  void row(const db::InsertBatch& batch, db::Params row) {
    if (batch_ != &batch) end_rows();
    batch_ = &batch;
    bytes_ += size_of(row);
    rows_.push_back(std::move(row));
    if (rows_.size() == rows_per_statement) end_rows();
  }
  void add(db::Statement s) {
    end_rows();
    bytes_ += size_of(s.params);
    pending_.push_back(std::move(s));
  }
  bool full() const noexcept { return pending_.size() >= kit::Write::max_statements_per_round_trip || bytes_ >= max_bytes; }
  // The statements ready to go (the rows not yet a statement too, when nothing else is ready).
  std::vector<db::Statement> take() {
    if (pending_.empty()) end_rows();
    bytes_ = 0;
    for (const auto& r : rows_) bytes_ += size_of(r);
    return std::exchange(pending_, {});
  }
  // Everything left.
  std::vector<db::Statement> take_all() {
    end_rows();
    bytes_ = 0;
    return std::exchange(pending_, {});
  }

 private:
  static std::size_t size_of(const db::Params& p) {
    std::size_t n = 0;
    for (const auto& v : p.values()) n += v ? v->size() : 0;
    return n;
  }
  void end_rows() {
    if (rows_.empty()) return;
    for (auto& s : batch_->statements(rows_)) pending_.push_back(std::move(s));
    rows_.clear();
  }
  const db::InsertBatch* batch_ = nullptr;
  std::vector<db::Params> rows_;
  std::vector<db::Statement> pending_;
  std::size_t bytes_ = 0;  // of the parameters held: pending statements and rows
};

// What a committed batch answers, from what it decided (compact: the points' ids and values, and
// ingest's outcome in seqs), written a chunk at a time while it is sent: the summary, then the items
// (every point, or with ?answer=summary the violating ones alone, each window as a range of seqs).
class PointsAnswer final : public http::BodyStream {
 public:
  PointsAnswer(bool summary_only, std::vector<NewPoint> given, std::vector<Incoming> points,
               std::vector<StoredPoint> history, Outcome out, std::int64_t first_new, std::string now)
      : summary_only_(summary_only),
        given_(std::move(given)),
        points_(std::move(points)),
        history_(std::move(history)),
        outcome_(std::move(out)),
        now_(std::move(now)),
        ids_(history_, points_, first_new) {}

  const std::vector<NewPoint>& given() const noexcept { return given_; }
  // A point's extra_metadata, moved out once its row is made: the answer never shows it.
  std::string take_metadata(std::size_t i) { return std::exchange(given_[i].extra_metadata, {}); }
  const std::vector<Incoming>& points() const noexcept { return points_; }
  const Outcome& outcome() const noexcept { return outcome_; }
  const PointIds& ids() const noexcept { return ids_; }
  const std::string& now() const noexcept { return now_; }
  // The summary (also the batch's audit event): set once the rows are written.
  void set_summary(std::string summary, const std::array<std::int64_t, 9>& by_rule) {
    summary_ = std::move(summary);
    by_rule_ = by_rule;
  }

  boost::asio::awaitable<std::optional<std::string>> next() override { co_return produce(); }

 private:
  static constexpr std::size_t chunk_bytes = 256 << 10;

  std::optional<std::string> produce() {
    if (done_) return std::nullopt;
    std::string out;
    if (!started_) {
      started_ = true;
      out.append(summary_, 0, summary_.size() - 1);  // without its closing brace: the items follow
      if (summary_only_) {
        out += ",\"violations_by_rule\":{";
        for (int rule = 1; rule <= 8; ++rule) {
          out += (rule > 1 ? ",\"" : "\"") + std::to_string(rule) + "\":";
          append_int(out, by_rule_[static_cast<std::size_t>(rule)]);
        }
        out += "},\"points\":[";
      } else {
        out += ",\"items\":[";
      }
    }
    while (next_ < points_.size() && out.size() < chunk_bytes) {
      const std::size_t i = next_++;
      if (summary_only_) {
        if (!outcome_.points[i].violations.empty()) append_violating(out, i);
      } else {
        append_item(out, i);
      }
    }
    if (next_ == points_.size()) {
      out += "]}";
      done_ = true;
    }
    return out;
  }

  void open_item(std::string& out, std::size_t i) {
    const auto& o = outcome_.points[i];
    if (written_++) out += ',';
    out += "{\"id\":";
    append_id(out, points_[i].id);
    out += ",\"seq\":";
    append_int(out, o.seq);
    if (o.subgroup) {
      out += ",\"subgroup\":";
      append_int(out, *o.subgroup);
    }
    out += ",\"value\":";
    append_number(out, given_[i].value);
  }
  // A batch item names what differs from point to point.
  void append_item(std::string& out, std::size_t i) {
    const auto& g = given_[i];
    open_item(out, i);
    out += ",\"measured_at\":";
    append_string(out, g.measured_at ? *g.measured_at : now_);
    if (g.run_id) {
      out += ",\"run_id\":";
      append_string(out, *g.run_id);
    }
    out += ",\"violations\":";
    append_violations_json(out, outcome_.points[i].violations, ids_);
    out += '}';
  }
  void append_violating(std::string& out, std::size_t i) {
    open_item(out, i);
    out += ",\"violations\":[";
    const auto& fired = outcome_.points[i].violations;
    for (std::size_t k = 0; k < fired.size(); ++k) {
      out += k ? ",{\"rule\":" : "{\"rule\":";
      append_int(out, fired[k].rule);
      out += ",\"first_seq\":";
      append_int(out, fired[k].first_seq);
      out += ",\"last_seq\":";
      append_int(out, fired[k].last_seq);
      out += '}';
    }
    out += "]}";
  }

  const bool summary_only_;
  std::vector<NewPoint> given_;
  const std::vector<Incoming> points_;
  const std::vector<StoredPoint> history_;
  const Outcome outcome_;
  const std::string now_;
  const PointIds ids_;  // into history_ and points_
  std::string summary_;
  std::array<std::int64_t, 9> by_rule_{};
  std::size_t next_ = 0, written_ = 0;
  bool started_ = false, done_ = false;
};

}  // namespace

kit::Input<NewPoint> NewPoint::input() {
  return {"NewPoint",
          {kit::field("value", &NewPoint::value).describe("A finite number"),
           kit::field("measured_at", &NewPoint::measured_at).timestamp().describe("Default: now"),
           kit::field("run_id", &NewPoint::run_id).uuid().describe("A run of your organization"),
           kit::field("extra_metadata", &NewPoint::extra_metadata).object()}};
}

kit::Input<PointBatch> PointBatch::input() {
  kit::Input<PointBatch> in{
      "PointBatch",
      {kit::field("value", &PointBatch::value).describe("A finite number"),
       kit::field("measured_at", &PointBatch::measured_at).timestamp().describe("Default: now"),
       kit::field("run_id", &PointBatch::run_id).uuid().describe("A run of your organization"),
       kit::field("extra_metadata", &PointBatch::extra_metadata).object(),
       kit::field("points", &PointBatch::points).max_length(max_points_per_batch)
           .describe("A batch of up to 100,000 points, judged in order")}};
  in.also([](const PointBatch& b, kit::Problems& p) {
    if (b.points) {
      if (b.value || b.measured_at || b.run_id) p.add("points", "give one point or a batch, not both");
      if (b.points->empty() && !p.has("points")) p.add("points", "must hold at least one point");
    } else if (!b.value && !p.has("value")) {
      p.add("value", "is required");
    }
  });
  return in;
}

Reply list_points(RequestContext& ctx, Path<kit::Id> p, PageRequest page) {
  auto exists = co_await db::read(ctx.db(), ctx.tenant(), series_exists_q, db::Params(p.id));
  if (exists.empty()) throw not_found("No such series");
  co_return co_await points_list.page(ctx, db::Params(p.id), std::move(page));
}

kit::Input<PointAnswer> PointAnswer::input() {
  return {"PointAnswer",
          {kit::field("answer", &PointAnswer::answer)
               .one_of({"full", "summary"})
               .describe("full (default): every point added, each violation naming the ids of its rule's window. "
                         "summary: {series_id, count, first_seq, last_seq, violating_points, alerts, blocked_run_ids, "
                         "limits_computed?, violations_by_rule: {\"1\": n, ..., \"8\": n} (points firing each rule), "
                         "points: the violating points alone, [{id, seq, subgroup?, value, violations: [{rule, first_seq, "
                         "last_seq}]}] (each window as the seqs of its first and last point)}. Both stream once the batch "
                         "has committed.")}};
}

namespace {

// A batch of points added to series `series_id` inside `w`'s transaction: everything but the last
// round trip, which the caller sends with its own statements (`last`) and COMMIT. `single` is one
// point's whole row (for a request that gave one point).
struct Appended {
  std::shared_ptr<PointsAnswer> answer;
  std::vector<db::Statement> last;
  std::string single;
};

asio::awaitable<Appended> append(RequestContext& ctx, kit::Write& w, std::string series_id,
                                 std::vector<NewPoint> given, bool summary_only, bool batch) {
  std::vector<Incoming> points;
  points.reserve(given.size());
  for (const auto& g : given) points.push_back({crypto::uuid_v4(), g.value});
  // The runs the points name, each once.
  std::vector<std::string> run_ids;
  {
    std::unordered_map<std::string, bool> seen;
    for (const auto& g : given)
      if (g.run_id && seen.emplace(*g.run_id, true).second) run_ids.push_back(*g.run_id);
  }

  std::string single;  // one point's full answer: its whole row
  {
    // Round trip 1: the series locked, and what the rules and the checks need.
    std::vector<db::Statement> read;
    read.push_back({&lock_series_q, db::Params(series_id)});
    read.push_back({&history_q, db::Params(series_id)});
    read.push_back({&baseline_q, db::Params(series_id)});
    read.push_back({&open_alerts_q, db::Params(series_id)});
    if (!run_ids.empty()) {
      db::Params runs;
      runs.add_array(run_ids);
      read.push_back({&runs_q, std::move(runs)});
    }
    auto r = co_await w.exec_all(std::move(read));
    if (r[0].empty()) throw not_found("No such series");
    const LockedSeries series = locked_series(r[0]);
    if (!run_ids.empty()) {
      std::unordered_map<std::string, bool> known;
      for (int i = 0; i < r[4].rows(); ++i) known.emplace(known_run(r[4], i).id, true);
      ApiError bad = unprocessable("A point names a run that does not exist in your organization");
      bool refused = false;
      for (std::size_t i = 0; i < given.size(); ++i)
        if (given[i].run_id && !known.contains(*given[i].run_id)) {
          bad.with_field(batch ? "points[" + std::to_string(i) + "].run_id" : "run_id",
                         "does not exist in your organization");
          refused = true;
        }
      if (refused) throw std::move(bad);
    }

    SeriesState before = state_of(series);
    if (r[1].rows() > 0) before.last_seq = stored_point(r[1]).seq;  // the newest stored point, whatever wrote it
    std::vector<StoredPoint> history;
    const int keep = std::min(history_points(before), r[1].rows());
    for (int i = keep - 1; i >= 0; --i) history.push_back(stored_point(r[1], i));
    std::vector<double> baseline;
    for (int i = 0; i < r[2].rows(); ++i) baseline.push_back(baseline_value(r[2], i).value);
    std::vector<OpenAlert> open;
    for (int i = 0; i < r[3].rows(); ++i) {
      const OpenAlertRow a = open_alert(r[3], i);
      open.push_back({a.id, static_cast<int>(a.rule), a.last_seq});
    }
    Outcome decided = ingest(before, history, baseline, open, points, [] { return crypto::uuid_v4(); });
    // From here on the answer holds the batch: the rows and the answer are written from it.
    auto batch_answer = std::make_shared<PointsAnswer>(summary_only, std::move(given), std::move(points), std::move(history),
                                                 std::move(decided), before.last_seq + 1, series.now);
    const Outcome& out = batch_answer->outcome();
    const PointIds& ids = batch_answer->ids();
    const std::string& now = batch_answer->now();
    const std::string user = ctx.principal.user_id;

    // A new alert on a hold_on_alert series holds its instrument: its queued runs are blocked now.
    json::array blocked;
    const auto opened = std::find_if(out.alerts.begin(), out.alerts.end(), [](const AlertChange& a) { return a.opened; });
    if (opened != out.alerts.end() && series.hold_on_alert && series.instrument_id) {
      const std::string instrument = *series.instrument_id;
      co_await w.exec(lock_instrument_q, db::Params(instrument));
      auto lockout = co_await w.exec(instruments::lockout_q, db::Params(instrument));
      const instruments::SpcHold hold{series_id, series.name, opened->id, opened->rule};
      const auto state = instruments::lockout_state(lockout, hold);
      if (!state.usable) {
        auto runs = co_await instruments::block_queued_runs(w, instrument, state.reason, "spc_series_id", series_id);
        for (auto& run : runs) blocked.emplace_back(run);
      }
    }

    // The last phase: points, alerts, links, the series, the audit event and COMMIT, each row made as
    // its round trip is sent.
    RoundTrip trip;
    std::size_t violating = 0;
    std::array<std::int64_t, 9> by_rule{};
    for (std::size_t i = 0; i < out.points.size(); ++i) {
      const auto& o = out.points[i];
      const auto& g = batch_answer->given()[i];
      const std::string& id = batch_answer->points()[i].id;
      if (!o.violations.empty()) ++violating;
      for (const auto& f : o.violations) ++by_rule[static_cast<std::size_t>(f.rule)];
      const std::string& measured = g.measured_at ? *g.measured_at : now;
      std::string violations;
      append_violations_json(violations, o.violations, ids);
      if (!batch)
        single = json_text(json::object{
            {"id", id},
            {"organization_id", ctx.tenant().org_id},
            {"series_id", series_id},
            {"seq", o.seq},
            {"value", g.value},
            {"measured_at", measured},
            {"run_id", g.run_id ? json::value(*g.run_id) : json::value(nullptr)},
            {"subgroup", o.subgroup ? json::value(*o.subgroup) : json::value(nullptr)},
            {"violations", json::parse(violations)},
            {"recorded_by", user},
            {"extra_metadata", json::parse(g.extra_metadata)},
            {"created_at", now},
            {"updated_at", now}});
      trip.row(insert_points, db::Params(id, series_id, o.seq, g.value, measured, g.run_id, o.subgroup, std::move(violations),
                                         user, batch_answer->take_metadata(i)));
      if (trip.full()) co_await w.exec_all(trip.take());
    }
    // The alerts and links reference these points by foreign key: after many, plan the checks again.
    if (out.points.size() >= replan_after_points) {
      co_await w.exec_all(trip.take_all());
      co_await w.replan();
    }
    for (const auto& a : out.alerts) {
      if (!a.opened) continue;
      trip.row(insert_alerts, db::Params(a.id, series_id, ids(a.datapoint_seq), a.rule, a.last_seq));
      if (trip.full()) co_await w.exec_all(trip.take());
    }
    for (const auto& a : out.alerts) {
      if (a.opened) continue;
      trip.add({&extend_alert_q, db::Params(a.id, a.last_seq)});
      if (trip.full()) co_await w.exec_all(trip.take());
    }
    for (const auto& a : out.alerts)
      for (std::int64_t seq = a.first_seq; seq <= a.last_seq; ++seq) {
        trip.row(insert_links, db::Params(a.id, ids(seq)));
        if (trip.full()) co_await w.exec_all(trip.take());
      }
    std::vector<db::Statement> last = trip.take_all();
    const auto& after = out.after;
    last.push_back({&update_stats_q, db::Params(series_id, after.stats.n, after.stats.mean, after.stats.m2, after.range_sum,
                                                 after.range_count)});
    if (out.limits_computed) {
      const auto& l = *after.limits;
      last.push_back({&set_limits_q, db::Params(series_id, l.center, l.ucl, l.lcl, l.range_center, l.range_ucl, l.range_lcl)});
    }

    // The summary, written as text: a batch may open an alert every other point.
    std::string summary = "{\"series_id\":";
    append_string(summary, series_id);
    summary += ",\"count\":";
    append_int(summary, static_cast<std::int64_t>(out.points.size()));
    summary += ",\"first_seq\":";
    append_int(summary, out.points.front().seq);
    summary += ",\"last_seq\":";
    append_int(summary, out.points.back().seq);
    summary += ",\"violating_points\":";
    append_int(summary, static_cast<std::int64_t>(violating));
    summary += ",\"alerts\":[";
    for (std::size_t i = 0; i < out.alerts.size(); ++i) {
      const auto& a = out.alerts[i];
      summary += i ? ",{\"id\":" : "{\"id\":";
      append_string(summary, a.id);
      summary += ",\"rule\":";
      append_int(summary, a.rule);
      summary += a.opened ? ",\"opened\":true" : ",\"opened\":false";
      summary += ",\"last_seq\":";
      append_int(summary, a.last_seq);
      summary += '}';
    }
    summary += "],\"blocked_run_ids\":" + json_text(blocked);
    if (out.limits_computed) {
      const auto& l = *after.limits;
      summary += ",\"limits_computed\":{\"center_line\":";
      append_number(summary, l.center);
      summary += ",\"ucl\":";
      append_number(summary, l.ucl);
      summary += ",\"lcl\":";
      append_number(summary, l.lcl);
      summary += '}';
    }
    summary += '}';
    w.audit("spc_points.add", "spc_series", series_id, std::nullopt, summary);  // one per batch
    batch_answer->set_summary(std::move(summary), by_rule);
    co_return Appended{std::move(batch_answer), std::move(last), std::move(single)};
  }
}

}  // namespace

Reply add_points(RequestContext& ctx, Path<kit::Id> p, QueryString<PointAnswer> q, Body<PointBatch> in) {
  const bool batch = in.points.has_value();
  const bool summary_only = q.answer == "summary";
  std::vector<NewPoint> given = batch ? std::move(*in.points)
                                      : std::vector<NewPoint>{{*in.value, in.measured_at, in.run_id, in.extra_metadata}};
  auto appended = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<Appended> {
    Appended a = co_await append(ctx, w, p.id, std::move(given), summary_only, batch);
    co_await w.commit(std::move(a.last));
    co_return a;
  });
  std::shared_ptr<PointsAnswer> answer = std::move(appended.answer);
  std::string single = std::move(appended.single);
  if (!batch && !summary_only) co_return http::Response::json(201, std::move(single));
  // Written while it is sent, after the commit: memory follows a chunk, not the answer.
  http::Response r;
  r.status = 201;
  r.stream = std::move(answer);
  co_return r;
}

}  // namespace spectra::spc

namespace spectra::spc {
namespace {

// The series that take results of metrics $2 recorded on run $3 (on its instrument, following any
// version of the recipe a series names), in id order: the order every writer locks them in. A
// calibration run feeds none.
const db::Query fed_series_q{
    "spc_fed_series",
    "SELECT s.id, s.source_metric FROM spc_series s"
    "  JOIN runs r ON r.organization_id = $1 AND r.id = $3 AND r.kind <> 'calibration'"
    " WHERE s.organization_id = $1 AND NOT s.is_deleted AND s.source_metric = ANY($2::text[])"
    "   AND (s.source_instrument_id IS NULL OR s.source_instrument_id = r.instrument_id)"
    "   AND (s.source_recipe_id IS NULL OR s.source_recipe_id IN ("
    "        SELECT v.id FROM recipes v, recipes q WHERE v.organization_id = $1 AND q.organization_id = $1"
    "           AND q.id = r.recipe_id AND coalesce(v.root_recipe_id, v.id) = coalesce(q.root_recipe_id, q.id)))"
    " ORDER BY s.id"};
struct FedSeries {
  std::string id, source_metric;
};
const db::Decoder<FedSeries> fed_series_of{fed_series_q,
                                           {{"id", &FedSeries::id}, {"source_metric", &FedSeries::source_metric}}};

}  // namespace

db::Statement fed_series(const std::string& run_id, const std::vector<std::string>& metrics) {
  db::Params params;
  params.add_array(metrics);
  params.add(run_id);
  return {&fed_series_q, std::move(params)};
}

asio::awaitable<std::vector<std::string>> feed_series(RequestContext& ctx, kit::Write& w, db::Result found,
                                                      std::string run_id, std::vector<FedResult> results) {
  std::vector<std::string> fed;
  for (int i = 0; i < found.rows(); ++i) {
    const FedSeries series = fed_series_of(found, i);
    std::vector<NewPoint> points;
    for (const auto& r : results)
      if (r.metric == series.source_metric) points.push_back({r.value, std::nullopt, run_id, "{}"});
    if (points.empty()) continue;
    Appended a = co_await append(ctx, w, series.id, std::move(points), true, true);
    co_await w.exec_all(std::move(a.last));
    fed.push_back(series.id);
  }
  co_return fed;
}

}  // namespace spectra::spc
