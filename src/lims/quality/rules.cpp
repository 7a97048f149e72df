#include "lims/quality/rules.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "platform/crypto.hpp"

namespace spectra::quality {
namespace {

// Spelled as labs write them; compared exactly (mV is not MV).
constexpr std::string_view units[] = {
    // dimensionless
    "1", "%", "ppm", "ppb", "ppt", "count", "a.u.", "ratio",
    // length, thickness, roughness
    "pm", "nm", "um", "µm", "mm", "cm", "m", "Å", "mil", "in",
    // area, volume, density
    "nm2", "um2", "µm2", "mm2", "cm2", "m2", "cm3", "g/cm3", "mg", "g", "kg", "ug", "µg",
    // electrical
    "V", "mV", "uV", "µV", "kV", "A", "mA", "uA", "µA", "nA", "pA", "fA", "A/cm2", "mA/cm2",
    "ohm", "Ω", "mohm", "mΩ", "kohm", "kΩ", "Mohm", "MΩ", "ohm/sq", "Ω/sq", "ohm·cm", "Ω·cm", "ohm-cm", "mohm-cm",
    "S", "mS", "uS", "µS", "S/cm", "F", "pF", "nF", "uF", "µF", "fF", "F/cm2", "H", "nH", "uH", "W", "mW", "uW", "µW",
    // frequency, time
    "Hz", "kHz", "MHz", "GHz", "s", "ms", "us", "µs", "ns", "ps", "min", "h",
    // temperature, energy
    "K", "°C", "degC", "eV", "meV", "J",
    // carriers, doses, mobility
    "cm^-3", "cm-3", "atoms/cm3", "cm^-2", "cm-2", "atoms/cm2", "cm2/Vs", "cm2/(V·s)",
    // pressure, flow, rates, stress
    "Pa", "kPa", "MPa", "GPa", "mbar", "Torr", "mTorr", "sccm", "slm", "nm/min", "Å/s", "Å/min", "um/min", "µm/min",
    // optics, angles, defects
    "dB", "dBm", "deg", "°", "rad", "arcsec", "defects/cm2"};

bool finite(const std::optional<double>& v) { return !v || std::isfinite(*v); }

}  // namespace

std::string_view to_string(Evaluation e) noexcept {
  switch (e) {
    case Evaluation::pass: return "pass";
    case Evaluation::warn: return "warn";
    case Evaluation::fail: return "fail";
    case Evaluation::below_lod: return "below_lod";
    case Evaluation::none: break;
  }
  return "none";
}

Evaluation judge(double value, const Limit& l) noexcept {
  if (l.lod && value < *l.lod) return Evaluation::below_lod;
  if (!l.lsl && !l.usl && !l.warn_low && !l.warn_high) return Evaluation::none;
  if ((l.lsl && value < *l.lsl) || (l.usl && value > *l.usl)) return Evaluation::fail;
  if ((l.warn_low && value < *l.warn_low) || (l.warn_high && value > *l.warn_high)) return Evaluation::warn;
  return Evaluation::pass;
}

const Limit* limit_of(std::string_view metric, const std::vector<Limit>& limits) noexcept {
  for (const auto& l : limits)
    if (l.metric == metric) return &l;
  return nullptr;
}

Evaluation judge(double value, std::string_view metric, const std::vector<Limit>& limits) noexcept {
  const Limit* l = limit_of(metric, limits);
  return l ? judge(value, *l) : Evaluation::none;
}

std::vector<Problem> limit_problems(const std::vector<Limit>& limits) {
  std::vector<Problem> out;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < limits.size(); ++i) {
    const Limit& l = limits[i];
    const std::string at = "limits[" + std::to_string(i) + "].";
    auto add = [&](const char* field, std::string message) { out.push_back({at + field, std::move(message)}); };
    if (!seen.insert(l.metric).second) add("metric", "names a metric that has a limit already");
    if (l.unit && !known_unit(*l.unit)) add("unit", "is not a known unit (for example nm, µm, V, ohm/sq, ohm·cm, cm^-3, %)");
    bool numbers = true;
    for (auto [name, v] : {std::pair{"lsl", l.lsl}, {"usl", l.usl}, {"target", l.target}, {"warn_low", l.warn_low},
                           {"warn_high", l.warn_high}, {"lod", l.lod}})
      if (!finite(v)) {
        add(name, "must be a finite number");
        numbers = false;
      }
    if (!numbers) continue;
    if (!l.lsl && !l.usl && !l.lod) add("lsl", "give at least one of lsl, usl and lod");
    if (l.lsl && l.usl && !(*l.lsl < *l.usl)) add("usl", "must be greater than lsl (" + number_text(*l.lsl) + ")");
    if (l.warn_low && l.warn_high && !(*l.warn_low < *l.warn_high))
      add("warn_high", "must be greater than warn_low (" + number_text(*l.warn_low) + ")");
    if (l.warn_low && l.lsl && *l.warn_low < *l.lsl) add("warn_low", "must be inside the limits: at least lsl (" + number_text(*l.lsl) + ")");
    if (l.warn_low && l.usl && *l.warn_low > *l.usl) add("warn_low", "must be inside the limits: at most usl (" + number_text(*l.usl) + ")");
    if (l.warn_high && l.usl && *l.warn_high > *l.usl) add("warn_high", "must be inside the limits: at most usl (" + number_text(*l.usl) + ")");
    if (l.warn_high && l.lsl && *l.warn_high < *l.lsl) add("warn_high", "must be inside the limits: at least lsl (" + number_text(*l.lsl) + ")");
    if (l.target && ((l.lsl && *l.target < *l.lsl) || (l.usl && *l.target > *l.usl)))
      add("target", "must be inside the limits");
    if (l.lod && l.usl && !(*l.lod < *l.usl)) add("lod", "must be below usl (" + number_text(*l.usl) + ")");
  }
  return out;
}

bool known_unit(std::string_view unit) noexcept { return std::find(std::begin(units), std::end(units), unit) != std::end(units); }

std::optional<std::string> unit_mismatch(const std::optional<std::string>& result_unit, const Limit& limit) {
  if (!result_unit || !limit.unit || *result_unit == *limit.unit) return std::nullopt;
  return "is " + *result_unit + " but the specification's limits for " + limit.metric + " are in " + *limit.unit +
         ": record it in " + *limit.unit;
}

std::optional<std::string> review_refusal(std::string_view from, std::string_view to) {
  if (to != "UNDER_REVIEW") return "A nonconformance is closed by a disposition (POST .../disposition), not by PATCH";
  if (from == "OPEN") return std::nullopt;
  return "The nonconformance is " + std::string(from) + "; only an OPEN one goes under review";
}

std::optional<std::string> disposition_refusal(std::string_view status) {
  if (status == "OPEN" || status == "UNDER_REVIEW") return std::nullopt;
  return "The nonconformance is " + std::string(status) + " and has its disposition";
}

SampleOutcome sample_outcome(std::string_view disposition, bool other_open) noexcept {
  if (disposition == "scrap") return SampleOutcome::dispose;
  return other_open ? SampleOutcome::stay_quarantined : SampleOutcome::release;
}

std::string number_text(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "\u221E" : "\u2212\u221E";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value == 0 ? 0.0 : value);  // no "-0"
  return text;
}

std::string disposition_signature(const SignedDisposition& d) {
  std::string out;
  for (const std::string& part : {d.nonconformance_id, d.run_id, d.sample_id, d.metric, std::to_string(d.failures),
                                  d.disposition, d.comment, std::string("disposition"), d.signer_id, d.signer_name,
                                  d.signed_at}) {
    out += std::to_string(part.size());
    out += ':';
    out += part;
  }
  return crypto::sha256(out);
}

}  // namespace spectra::quality
