#include "analysis/instruments/lockout.hpp"

#include <boost/json.hpp>

#include "platform/json_text.hpp"

namespace spectra::instruments {

const db::Query lockout_q{
    "instruments_lockout",
    "SELECT c.id, c.certificate_number, c.status, floor(extract(epoch FROM c.expires_at))::bigint AS expires_at_epoch,"
    "       floor(extract(epoch FROM c.expired_at))::bigint AS expired_at_epoch,"
    "       floor(extract(epoch FROM now()))::bigint AS now_epoch,"
    "       h.series_id, h.series_name, h.rule, h.alert_id"
    " FROM (SELECT 1) one"
    " LEFT JOIN LATERAL (SELECT * FROM calibrations x WHERE x.organization_id = $1"
    "   AND x.instrument_id = $2 ORDER BY x.calibrated_at DESC, x.created_at DESC, x.id DESC LIMIT 1) c ON true"
    " LEFT JOIN LATERAL (SELECT s.id AS series_id, s.name AS series_name, a.rule, a.id AS alert_id"
    "   FROM spc_series s JOIN spc_alerts a ON a.organization_id = $1 AND a.series_id = s.id AND a.status <> 'RESOLVED'"
    "   WHERE s.organization_id = $1 AND s.instrument_id = $2 AND s.hold_on_alert AND NOT s.is_deleted"
    "   ORDER BY a.created_at, a.id LIMIT 1) h ON true"};

namespace {
// The calibration's columns are NULL when there is none; the hold's when no alert holds the instrument.
struct LockoutFacts {
  std::optional<std::string> id;
  std::string certificate_number, status;
  std::optional<std::int64_t> expires_at_epoch, expired_at_epoch;
  std::int64_t now_epoch = 0;
  std::optional<std::string> series_id;
  std::string series_name;
  std::optional<std::int64_t> rule;
  std::string alert_id;
};
const db::Decoder<LockoutFacts> lockout_facts{
    lockout_q,
    {{"id", &LockoutFacts::id}, {"certificate_number", &LockoutFacts::certificate_number},
     {"status", &LockoutFacts::status}, {"expires_at_epoch", &LockoutFacts::expires_at_epoch},
     {"expired_at_epoch", &LockoutFacts::expired_at_epoch}, {"now_epoch", &LockoutFacts::now_epoch},
     {"series_id", &LockoutFacts::series_id}, {"series_name", &LockoutFacts::series_name},
     {"rule", &LockoutFacts::rule}, {"alert_id", &LockoutFacts::alert_id}}};
}  // namespace

Lockout lockout_state(const db::Result& r, const std::optional<SpcHold>& recording) {
  auto seconds = [](std::int64_t s) { return Time(std::chrono::seconds(s)); };
  const LockoutFacts f = lockout_facts(r);
  std::optional<Calibration> latest;
  if (f.id) {
    latest = Calibration{*f.id, f.certificate_number, f.status, seconds(f.expires_at_epoch.value()), std::nullopt};
    if (f.expired_at_epoch) latest->expired_at = seconds(*f.expired_at_epoch);
  }
  std::optional<SpcHold> hold = recording;
  if (f.series_id) hold = SpcHold{*f.series_id, f.series_name, f.alert_id, static_cast<int>(f.rule.value())};
  return judge_lockout(judge_calibration(latest, seconds(f.now_epoch)), hold);
}

namespace {
const db::Query block_runs_q{
    "instruments_block_queued_runs",
    "UPDATE runs SET status = 'BLOCKED', blocked_reason = $3, blocked_at = now()"
    " WHERE organization_id = $1 AND instrument_id = $2 AND status = 'QUEUED' AND kind <> 'calibration'"
    " RETURNING id"};
struct BlockedRun {
  std::string id;
};
const db::Decoder<BlockedRun> blocked_run{block_runs_q, {{"id", &BlockedRun::id}}};
}  // namespace

boost::asio::awaitable<std::vector<std::string>> block_queued_runs(kit::Write& w, std::string instrument,
                                                                   std::string reason, std::string cause_key,
                                                                   std::string cause_id) {
  auto runs = co_await w.exec(block_runs_q, db::Params(instrument, reason));
  std::vector<std::string> ids;
  for (int i = 0; i < runs.rows(); ++i) {
    ids.push_back(blocked_run(runs, i).id);
    w.audit("run.block", "run", ids.back(), std::nullopt,
            json_text(boost::json::object{
                {"status", "BLOCKED"}, {"blocked_reason", reason}, {cause_key, cause_id}}));
  }
  co_return ids;
}

}  // namespace spectra::instruments
