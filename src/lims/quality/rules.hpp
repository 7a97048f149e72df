#pragma once
// The rules of quality as plain functions, unit-tested without a database: how a result is judged
// against a specification's limit for its metric, what a valid set of limits is, which units a limit
// may name, how a nonconformance moves, and what each disposition does to the sample. The handlers
// (specifications, results, nonconformances, certificates) apply them inside their transactions.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spectra::quality {

// A specification's limit for one metric. Every bound is optional; a value equal to a bound is inside it.
struct Limit {
  std::string metric;
  std::optional<std::string> unit;
  std::optional<double> lsl, usl, target, warn_low, warn_high, lod;
};

enum class Evaluation { pass, warn, fail, below_lod, none };
std::string_view to_string(Evaluation e) noexcept;
inline constexpr const char* evaluations[] = {"pass", "warn", "fail", "below_lod", "none"};

// The judgement of `value` against `limit`:
//  - below_lod: under the limit of detection (value < lod), whatever the other limits say: the value is
//    not a measurement of the quantity, so it is neither passed nor failed;
//  - fail: below lsl or above usl;
//  - warn: inside the limits but below warn_low or above warn_high;
//  - pass: inside every given limit;
//  - none: the limit gives neither lsl, usl, warn_low nor warn_high (a target or an LOD alone judges nothing).
Evaluation judge(double value, const Limit& limit) noexcept;
// The judgement of a result of `metric`: its limit in `limits` (none when the metric has no limit).
Evaluation judge(double value, std::string_view metric, const std::vector<Limit>& limits) noexcept;
// The limit of `metric`, or null.
const Limit* limit_of(std::string_view metric, const std::vector<Limit>& limits) noexcept;

// The problems of a specification's limits, each with the field it names ("limits[2].warn_high", ...):
// finite numbers; lsl < usl; warn_low < warn_high; the warning band inside the limits
// (lsl <= warn_low, warn_high <= usl); target inside the limits; an LOD below the USL; at least one
// of lsl, usl and lod; a known unit; each metric once.
struct Problem {
  std::string field, message;
};
std::vector<Problem> limit_problems(const std::vector<Limit>& limits);

// The units a limit (and so a judged result) may be in: SI and the units of semiconductor metrology
// (nm, µm, Å, ohm/sq, ohm·cm, cm^-3, cm2/Vs, sccm, ...), spelled as they are written.
bool known_unit(std::string_view unit) noexcept;

// Why a result in `result_unit` cannot be judged against `limit` (a different unit: the value would be
// compared with limits in another scale); nullopt when it can (same unit, or either is absent).
std::optional<std::string> unit_mismatch(const std::optional<std::string>& result_unit, const Limit& limit);

// Nonconformances: OPEN → UNDER_REVIEW (PATCH) → CLOSED (a disposition). Why `to` is refused from `from`.
std::optional<std::string> review_refusal(std::string_view from, std::string_view to);
std::optional<std::string> disposition_refusal(std::string_view status);
inline constexpr const char* dispositions[] = {"use_as_is", "rework", "retest", "scrap"};

// What a disposition does to the sample: release it (available, a `release` custody event) or dispose of
// it (disposed, a `dispose` event). A sample with another open nonconformance stays quarantined.
enum class SampleOutcome { release, dispose, stay_quarantined };
SampleOutcome sample_outcome(std::string_view disposition, bool other_open_nonconformances) noexcept;

// A value as certificates and messages print it: up to 6 significant digits, no "-0", NaN and ±∞.
std::string number_text(double value);

// What a disposition signs (21 CFR Part 11: the signer's name, the time, the meaning and what was
// decided), hashed: the SHA-256 (32 bytes) of a length-prefixed encoding of every field, so that no field
// can run into the next.
struct SignedDisposition {
  std::string nonconformance_id, run_id, sample_id, metric;
  std::int64_t failures = 0;
  std::string disposition, comment, signer_id, signer_name, signed_at;
};
std::string disposition_signature(const SignedDisposition& d);

}  // namespace spectra::quality
