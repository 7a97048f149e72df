#pragma once
// The lockout as the write paths use it: an instrument's latest calibration read in the caller's
// transaction (with the instrument's row locked by the caller), decided by judge_calibration().
// Used by calibrations (expire, revoke) and by runs (create, start, unblock).
#include "analysis/instruments/rules.hpp"
#include "platform/db/result.hpp"

namespace spectra::instruments {

// $2 the instrument: its latest calibration (by calibrated_at; no row values when it has none) and the
// database's time now, in whole seconds.
extern const db::Query latest_calibration_q;
// The decision from latest_calibration_q's row.
CalibrationState calibration_state(const db::Result& latest);

}  // namespace spectra::instruments
