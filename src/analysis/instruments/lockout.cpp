#include "analysis/instruments/lockout.hpp"

namespace spectra::instruments {

const db::Query latest_calibration_q{
    "instruments_latest_calibration",
    "SELECT c.id, c.certificate_number, c.status, floor(extract(epoch FROM c.expires_at))::bigint,"
    "       floor(extract(epoch FROM c.expired_at))::bigint, floor(extract(epoch FROM now()))::bigint"
    " FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT * FROM calibrations x WHERE x.organization_id = $1"
    "   AND x.instrument_id = $2 ORDER BY x.calibrated_at DESC, x.created_at DESC, x.id DESC LIMIT 1) c ON true"};

CalibrationState calibration_state(const db::Result& r) {
  auto seconds = [](std::int64_t s) { return Time(std::chrono::seconds(s)); };
  std::optional<Calibration> latest;
  if (r.get_optional(0, 0)) {
    latest = Calibration{std::string(r.get(0, 0)), std::string(r.get(0, 1)), std::string(r.get(0, 2)),
                         seconds(r.get_int(0, 3)), std::nullopt};
    if (r.get_optional(0, 4)) latest->expired_at = seconds(r.get_int(0, 4));
  }
  return judge_calibration(latest, seconds(r.get_int(0, 5)));
}

}  // namespace spectra::instruments
