#pragma once
// The lockout as the write paths use it: an instrument's latest calibration and any open SPC alert
// holding it, read in the caller's transaction (with the instrument's row locked by the caller) and
// decided by judge_lockout(). Used by calibrations (expire, revoke), runs (create, start, unblock) and
// SPC points (an alert on a hold_on_alert series blocks the instrument's queued runs).
#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "analysis/instruments/rules.hpp"
#include "kit/data.hpp"
#include "platform/db/result.hpp"

namespace spectra::instruments {

// $2 the instrument: its latest calibration (by calibrated_at; no row values when it has none), the
// database's time now in whole seconds, and the oldest open alert of a hold_on_alert series on it.
extern const db::Query lockout_q;
// The decision from lockout_q's row; `recording` is a hold the caller is about to record in its own
// transaction (a new alert not yet written), counted when the row shows no other.
Lockout lockout_state(const db::Result& r, const std::optional<SpcHold>& recording = std::nullopt);

// Blocks the instrument's QUEUED runs (calibration runs are exempt) with `reason`, in the caller's
// transaction, after it has locked the instrument FOR UPDATE; each blocked run gets a run.block audit
// event whose `after` also names the cause (`cause_key`: `cause_id`). Answers the runs' ids.
boost::asio::awaitable<std::vector<std::string>> block_queued_runs(kit::Write& w, std::string instrument,
                                                                   std::string reason, std::string cause_key,
                                                                   std::string cause_id);

}  // namespace spectra::instruments
