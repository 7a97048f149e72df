#include "analysis/instruments/rules.hpp"

#include <ctime>

namespace spectra::instruments {

std::string utc_date(Time t) {
  const std::time_t secs = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

CalibrationState judge_calibration(const std::optional<Calibration>& latest, Time now) {
  CalibrationState s;
  if (!latest) {
    s.status = "NONE";
    s.reason = "no calibration on record";
    return s;
  }
  const auto& c = *latest;
  s.calibration_id = c.id;
  s.expires_at = c.expires_at;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(c.expires_at - now).count();
  s.days_until_expiry = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);  // rounded down
  const std::string certificate = " (certificate " + c.certificate_number + ")";
  if (c.status == "REVOKED") {
    s.status = "REVOKED";
    s.reason = "calibration revoked" + certificate;
  } else if (c.status == "PENDING") {
    s.status = "PENDING";
    s.reason = "calibration pending" + certificate;
  } else if (c.status == "EXPIRED") {
    s.status = "EXPIRED";
    s.reason = "calibration expired on " + utc_date(c.expired_at.value_or(c.expires_at)) + certificate;
  } else if (c.status != "VALID") {  // no other status exists (a CHECK); never usable all the same
    s.status = c.status;
    s.reason = "calibration " + c.status + certificate;
  } else if (c.expires_at <= now) {
    s.status = "EXPIRED";
    s.reason = "calibration expired on " + utc_date(c.expires_at) + certificate;
  } else {
    s.status = "VALID";
    s.usable = true;
    s.reason = "valid until " + utc_date(c.expires_at) + certificate;
  }
  return s;
}

Lockout judge_lockout(const CalibrationState& calibration, const std::optional<SpcHold>& hold) {
  Lockout out;
  out.usable = calibration.usable && !hold;
  const std::string held = hold ? "open SPC alert on series '" + hold->series_name + "' (Nelson rule " +
                                      std::to_string(hold->rule) + ")"
                                : std::string();
  if (!calibration.usable) out.reason = hold ? calibration.reason + "; " + held : calibration.reason;
  else out.reason = hold ? held : calibration.reason;
  return out;
}

}  // namespace spectra::instruments
