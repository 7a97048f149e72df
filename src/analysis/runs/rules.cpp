#include "analysis/runs/rules.hpp"

namespace spectra::runs {

std::optional<std::string> transition_refusal(std::string_view from, std::string_view to, Via via) {
  const bool allowed = via == Via::unblock
                           ? from == "BLOCKED" && to == "QUEUED"
                           : (from == "QUEUED" && to == "RUNNING") || (from == "RUNNING" && to == "COMPLETED") ||
                                 (from == "RUNNING" && to == "FAILED") ||
                                 (to == "CANCELLED" && (from == "QUEUED" || from == "RUNNING" || from == "BLOCKED"));
  if (allowed) return std::nullopt;
  std::string why = "A run cannot go from " + std::string(from) + " to " + std::string(to);
  if (via == Via::status_change && from == "BLOCKED" && to != "CANCELLED")
    why += ": a BLOCKED run is unblocked first (POST /api/v1/runs/{id}/unblock)";
  return why;
}

bool takes_results(std::string_view status) noexcept { return status == "RUNNING" || status == "COMPLETED"; }

}  // namespace spectra::runs
