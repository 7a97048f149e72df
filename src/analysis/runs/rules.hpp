#pragma once
// The run state machine as one plain function, unit-tested over every pair of states (PRODUCT.md,
// Run states): QUEUED → RUNNING → COMPLETED | FAILED; QUEUED, RUNNING or BLOCKED → CANCELLED;
// BLOCKED → QUEUED only through unblock (which re-checks the calibration). The calibration check
// itself is instruments::judge_calibration.
#include <optional>
#include <string>
#include <string_view>

namespace spectra::runs {

inline constexpr const char* run_statuses[] = {"QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "BLOCKED"};

enum class Via { status_change, unblock };

// Why `from` → `to` is not allowed (409, naming both), or nullopt when it is. A status change
// (PATCH …/status) never moves a run to QUEUED or BLOCKED: unblock and the lockout do that.
std::optional<std::string> transition_refusal(std::string_view from, std::string_view to, Via via = Via::status_change);

// Whether results may be recorded on a run in `status` (RUNNING or COMPLETED).
bool takes_results(std::string_view status) noexcept;

}  // namespace spectra::runs
