#pragma once
// What recording results asks of quality, inside the results' own transaction: the limits a run is
// judged against, and the nonconformances its failures open (with the sample's quarantine).
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kit/data.hpp"
#include "lims/quality/rules.hpp"

namespace spectra::quality {

// A specification version's stored limits (specifications.limits).
std::vector<Limit> parse_limits(std::string_view json);

// The failures of one metric in a batch: how many, and the first and the last failing value.
struct Failure {
  std::string metric;
  std::int64_t count = 0;
  double first = 0, last = 0;
};
struct JudgedRun {
  std::string run_id, sample_id;
  std::optional<std::string> specification_version_id;
};

// Opens a nonconformance per failed metric of `run` (or attaches the failures to the one open), and
// audits each opened one; one round trip, with the sample locked. Answers the statements that
// quarantine the sample (its status and a `quarantine` custody event) for the caller's COMMIT, with
// their audit entry queued: none when no nonconformance opened or the sample is not at hand
// (quarantined already, consumed or disposed).
boost::asio::awaitable<std::vector<db::Statement>> open_nonconformances(kit::RequestContext& ctx, kit::Write& w,
                                                                        const JudgedRun& run,
                                                                        const std::vector<Failure>& failures);

}  // namespace spectra::quality
