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

Lockout lockout_state(const db::Result& r, const std::optional<SpcHold>& recording) {
  auto seconds = [](std::int64_t s) { return Time(std::chrono::seconds(s)); };
  std::optional<Calibration> latest;
  if (r.get_optional(0, 0)) {
    latest = Calibration{std::string(r.get(0, 0)), std::string(r.get(0, 1)), std::string(r.get(0, 2)),
                         seconds(r.get_int(0, 3)), std::nullopt};
    if (r.get_optional(0, 4)) latest->expired_at = seconds(r.get_int(0, 4));
  }
  std::optional<SpcHold> hold = recording;
  if (r.get_optional(0, 6))
    hold = SpcHold{std::string(r.get(0, 6)), std::string(r.get(0, 7)), std::string(r.get(0, 9)),
                   static_cast<int>(r.get_int(0, 8))};
  return judge_lockout(judge_calibration(latest, seconds(r.get_int(0, 5))), hold);
}

namespace {
const db::Query block_runs_q{
    "instruments_block_queued_runs",
    "UPDATE runs SET status = 'BLOCKED', blocked_reason = $3, blocked_at = now()"
    " WHERE organization_id = $1 AND instrument_id = $2 AND status = 'QUEUED' AND kind <> 'calibration'"
    " RETURNING id"};
}  // namespace

boost::asio::awaitable<std::vector<std::string>> block_queued_runs(kit::Write& w, std::string instrument,
                                                                   std::string reason, std::string cause_key,
                                                                   std::string cause_id) {
  auto runs = co_await w.exec(block_runs_q, db::Params(instrument, reason));
  std::vector<std::string> ids;
  for (int i = 0; i < runs.rows(); ++i) {
    ids.emplace_back(runs.get(i, 0));
    w.audit("run.block", "run", ids.back(), std::nullopt,
            json_text(boost::json::object{
                {"status", "BLOCKED"}, {"blocked_reason", reason}, {cause_key, cause_id}}));
  }
  co_return ids;
}

}  // namespace spectra::instruments
