#pragma once
// The calibration lockout's decision as a plain function, unit-tested without a socket or a database:
// given an instrument's latest calibration (by calibrated_at) and the time now, is the instrument
// usable, and if not, why (in words). PRODUCT.md: usable when the latest calibration is VALID and
// expires in the future. The same state is shown as the status-check object (shapes.hpp renders it
// in SQL for lists; tests check that the two agree).
#include <chrono>
#include <optional>
#include <string>

namespace spectra::instruments {

using Clock = std::chrono::system_clock;
using Time = std::chrono::time_point<Clock, std::chrono::seconds>;

// The latest calibration, as its row says.
struct Calibration {
  std::string id, certificate_number;
  std::string status;                // VALID, PENDING, EXPIRED, REVOKED
  Time expires_at{};
  std::optional<Time> expired_at;    // when it was expired by hand
};

struct CalibrationState {
  bool usable = false;
  std::string status;                // VALID, EXPIRED, REVOKED, PENDING, or NONE
  std::optional<std::string> calibration_id;
  std::optional<Time> expires_at;
  std::optional<long> days_until_expiry;  // whole days from now, rounded down (negative once expired)
  std::string reason;                // in words: "no calibration on record", "expired on 2026-11-20 (certificate C-1)", ...
};

// The decision: usable exactly when the latest calibration is VALID and expires_at is after now (at
// the second of expiry it is expired).
CalibrationState judge_calibration(const std::optional<Calibration>& latest, Time now);

// An open SPC alert that holds the instrument: a series linked to it with hold_on_alert has an alert
// not yet RESOLVED (PRODUCT.md, Calibration lockout).
struct SpcHold {
  std::string series_id, series_name, alert_id;
  int rule = 0;
};

// The whole lockout: usable when the calibration is and no SPC alert holds the instrument; the reason
// names every cause (the calibration's first), e.g. "open SPC alert on series 'Sheet resistance'
// (Nelson rule 1)".
struct Lockout {
  bool usable = false;
  std::string reason;
};
Lockout judge_lockout(const CalibrationState& calibration, const std::optional<SpcHold>& hold);

// "2026-11-20": the UTC date of a time, as reasons print it.
std::string utc_date(Time t);

}  // namespace spectra::instruments
