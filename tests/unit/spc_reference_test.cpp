// The Nelson rules (analysis/spc/nelson.hpp) checked against an independent implementation,
// tests/reference/nelson.py, written from the rules as the header states them in another style
// (numpy arrays over the whole sequence rather than a sliding window). Both read the same random
// sequences, generated at fixed seeds to trip every rule: plain noise, level shifts, trends, alternation,
// quiet stretches, outliers, asymmetric zones, and values quantised onto the zone boundaries and the
// center, so that ties and the edges of "beyond" and "within" come up. Every value must fire the same
// rules with the same windows on both sides. A second test feeds the same sequences to NelsonWindow in
// chunks, each chunk in a new window primed with the stored history, and expects the one-pass answers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/spc/nelson.hpp"
#include "support/command.hpp"

using namespace spectra;
using spc::Violation;
using spc::Zones;

namespace {

constexpr std::uint64_t first_seed = 20240611;
constexpr int case_count = 300;
constexpr int longest_window = *std::ranges::max_element(spc::rule_window);  // 15

struct Case {
  std::uint64_t seed = 0;
  std::string kind;
  Zones zones;
  std::vector<double> values;
};

// Shape generators write values in σ units (z: 0 at the center, ±1 at the 1σ lines); make_case maps
// them onto the case's zones, so an asymmetric case keeps its patterns in zone terms on both sides.
using Shape = std::vector<double> (*)(std::mt19937_64&, int length);

double uniform(std::mt19937_64& rng, double low, double high) {
  return std::uniform_real_distribution<double>(low, high)(rng);
}
int uniform_int(std::mt19937_64& rng, int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(rng);
}
double normal(std::mt19937_64& rng, double sd = 1) { return std::normal_distribution<double>(0, sd)(rng); }

std::vector<double> plain_noise(std::mt19937_64& rng, int length) {
  std::vector<double> z(length);
  for (double& v : z) v = normal(rng);
  return z;
}

// Stretches of 5–40 values around a shifted level, with noise narrower than a zone: long runs on one
// side (rule 2), clusters beyond 2σ and 1σ (rules 5, 6), and stretches beyond 1σ (rule 8).
std::vector<double> level_shifts(std::mt19937_64& rng, int length) {
  std::vector<double> z;
  while (static_cast<int>(z.size()) < length) {
    const double level = uniform(rng, -2.6, 2.6);
    const double spread = uniform(rng, 0.2, 0.8);
    for (int n = uniform_int(rng, 5, 40); n > 0 && static_cast<int>(z.size()) < length; --n)
      z.push_back(level + normal(rng, spread));
  }
  return z;
}

// Values far out on either side at random: stretches beyond 1σ that cross the center (rule 8).
std::vector<double> far_on_both_sides(std::mt19937_64& rng, int length) {
  std::vector<double> z(length);
  for (double& v : z) v = (rng() % 2 ? 1 : -1) * uniform(rng, 0.8, 2.8);
  return z;
}

// Stretches of steady drift up or down with little noise (rule 3), between plain noise.
std::vector<double> trends(std::mt19937_64& rng, int length) {
  std::vector<double> z;
  while (static_cast<int>(z.size()) < length) {
    const double slope = uniform(rng, -0.5, 0.5);
    const double noise = uniform(rng, 0, 0.15);
    double level = uniform(rng, -1.5, 1.5);
    for (int n = uniform_int(rng, 4, 25); n > 0 && static_cast<int>(z.size()) < length; --n, level += slope)
      z.push_back(level + normal(rng, noise));
  }
  return z;
}

// Saw-tooth stretches, up and down around a level with noise that sometimes breaks the pattern (rule 4).
std::vector<double> alternating(std::mt19937_64& rng, int length) {
  std::vector<double> z;
  while (static_cast<int>(z.size()) < length) {
    const double level = uniform(rng, -1, 1);
    const double swing = uniform(rng, 0.1, 1.5);
    const double noise = uniform(rng, 0, 0.4) * swing;
    for (int n = uniform_int(rng, 8, 40); n > 0 && static_cast<int>(z.size()) < length; --n)
      z.push_back(level + (n % 2 ? swing : -swing) + normal(rng, noise));
  }
  return z;
}

// Long stretches of very small variance near the center (rule 7), between plain noise.
std::vector<double> quiet_stretches(std::mt19937_64& rng, int length) {
  std::vector<double> z;
  while (static_cast<int>(z.size()) < length) {
    const double spread = rng() % 2 ? uniform(rng, 0.05, 0.4) : 1.0;
    for (int n = uniform_int(rng, 5, 50); n > 0 && static_cast<int>(z.size()) < length; --n)
      z.push_back(normal(rng, spread));
  }
  return z;
}

// Plain noise with 1 value in 8 thrown 3–10σ out (rule 1, and rule 5 when two come close together).
std::vector<double> outliers(std::mt19937_64& rng, int length) {
  std::vector<double> z(length);
  for (double& v : z) v = rng() % 8 ? normal(rng) : (rng() % 2 ? 1 : -1) * uniform(rng, 3, 10);
  return z;
}

// Half steps from −3.5σ to 3.5σ by a lazy random walk, so that values repeat (ties, flat steps) and
// land exactly on the center and on the 1σ, 2σ and 3σ lines.
std::vector<double> quantised_walk(std::mt19937_64& rng, int length) {
  std::vector<double> z(length);
  int step = uniform_int(rng, -7, 7);  // the value is step / 2
  for (double& v : z) {
    if (rng() % 3 == 0) step = std::clamp(step + uniform_int(rng, -3, 3), -7, 7);
    v = step / 2.0;
  }
  return z;
}

struct Kind {
  const char* name;
  Shape shape;
  bool on_exact_grid = false;  // values are the σ units themselves, on zones with exact binary widths
};
const std::array<Kind, 8> kinds = {{
    {"plain noise", plain_noise},
    {"level shifts", level_shifts},
    {"far on both sides", far_on_both_sides},
    {"trends", trends},
    {"alternating", alternating},
    {"quiet stretches", quiet_stretches},
    {"outliers", outliers},
    {"quantised walk", quantised_walk, true},
}};

// The case at seed: its kind and length come from the seed too, so the seed alone rebuilds it.
Case make_case(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const Kind& kind = kinds[rng() % kinds.size()];
  // One in eight is short, 1–16 values (around the first whole windows); the rest run 50–400 values.
  const int length = rng() % 8 == 0 ? uniform_int(rng, 1, 16) : uniform_int(rng, 50, 400);
  Case c{seed, kind.name, {}, {}};
  const std::vector<double> z = kind.shape(rng, length);

  if (kind.on_exact_grid) {
    // Center 0, σ above 1 and σ below 1, ½ or 2: half steps fall exactly on the lines of both sides.
    const std::array<double, 3> below = {1.0, 0.5, 2.0};
    c.zones = Zones{0, 1, below[rng() % below.size()]};
    c.values = z;
    return c;
  }
  // Otherwise a random center and σ; one case in three has asymmetric fixed limits.
  const double center = uniform(rng, -50, 50);
  const double sigma = std::exp(uniform(rng, std::log(0.01), std::log(20.0)));
  c.zones = rng() % 3 == 0 ? spc::zones_from_limits(center, center + 3 * sigma * uniform(rng, 0.4, 2.5),
                                                    center - 3 * sigma * uniform(rng, 0.4, 2.5))
                           : Zones{center, sigma, sigma};
  c.values.reserve(z.size());
  for (double v : z) c.values.push_back(c.zones.center + v * (v > 0 ? c.zones.sigma_above : c.zones.sigma_below));
  return c;
}

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  for (int i = 0; i < case_count; ++i) cases.push_back(make_case(first_seed + i));
  return cases;
}

std::string input_json(const std::vector<Case>& cases) {
  boost::json::array list;
  for (const Case& c : cases) {
    boost::json::array values(c.values.begin(), c.values.end());
    list.push_back(boost::json::object{{"values", std::move(values)},
                                       {"center", c.zones.center},
                                       {"sigma_above", c.zones.sigma_above},
                                       {"sigma_below", c.zones.sigma_below}});
  }
  return boost::json::serialize(boost::json::object{{"cases", std::move(list)}});
}

using Answers = std::vector<std::vector<Violation>>;  // per value, the violations it fires

// Runs the reference on every case at once; an empty result (with a test failure) when it can't.
std::vector<Answers> reference_answers(const std::vector<Case>& cases) {
  int status = 0;
  test::run_command("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1", &status);
  if (status != 0) {
    ADD_FAILURE() << "/usr/bin/python3 with numpy is needed: install python3-numpy (scripts/bootstrap lists it)";
    return {};
  }
  const auto input = std::filesystem::temp_directory_path() / ("spectra-nelson-" + std::to_string(getpid()) + ".json");
  std::ofstream(input) << input_json(cases);
  const std::string output = test::run_command(
      "/usr/bin/python3 '" SPECTRA_SOURCE_DIR "/tests/reference/nelson.py' < '" + input.string() + "'", &status);
  std::filesystem::remove(input);
  if (status != 0) {
    ADD_FAILURE() << "tests/reference/nelson.py failed (status " << status << "; its error is above)";
    return {};
  }
  boost::system::error_code error;
  const boost::json::value parsed = boost::json::parse(output, error);
  if (error) {
    ADD_FAILURE() << "tests/reference/nelson.py printed no JSON: " << error.message();
    return {};
  }
  std::vector<Answers> all;
  for (const auto& case_answers : parsed.at("results").as_array()) {
    Answers& answers = all.emplace_back();
    for (const auto& fired : case_answers.as_array()) {
      std::vector<Violation>& violations = answers.emplace_back();
      for (const auto& v : fired.as_array()) {
        Violation& violation = violations.emplace_back();
        violation.rule = boost::json::value_to<int>(v.at("rule"));
        violation.points = boost::json::value_to<std::vector<std::uint64_t>>(v.at("points"));
      }
    }
  }
  return all;
}

std::string describe(const std::vector<Violation>& violations) {
  if (violations.empty()) return "nothing";
  std::ostringstream out;
  for (const Violation& v : violations) {
    out << "rule " << v.rule << " [";
    for (std::size_t i = 0; i < v.points.size(); ++i) out << (i ? " " : "") << v.points[i];
    out << "] ";
  }
  return out.str();
}

std::string describe_case(const Case& c) {
  std::ostringstream out;
  out.precision(17);
  out << "seed " << c.seed << " (" << c.kind << ", " << c.values.size() << " values, center " << c.zones.center
      << ", sigma above " << c.zones.sigma_above << ", below " << c.zones.sigma_below << ")";
  return out.str();
}

// The values around index i, for a mismatch message.
std::string values_around(const Case& c, std::size_t i) {
  std::ostringstream out;
  out.precision(17);
  const std::size_t from = i >= longest_window ? i - longest_window + 1 : 0;
  out << "values[" << from << ".." << i << "] =";
  for (std::size_t j = from; j <= i; ++j) out << " " << c.values[j];
  return out.str();
}

// Reports the first few values whose answers differ; returns how many values differ in all.
int report_mismatches(const std::vector<Case>& cases, const std::vector<Answers>& expected,
                      const std::vector<Answers>& actual, const char* expected_name, const char* actual_name) {
  constexpr int reported = 5;
  int mismatches = 0;
  for (std::size_t n = 0; n < cases.size(); ++n) {
    const Case& c = cases[n];
    const Answers& want = expected.at(n);
    const Answers& got = actual.at(n);
    if (got.size() != want.size()) {
      if (mismatches++ < reported)
        ADD_FAILURE() << "case " << n << ", " << describe_case(c) << ": " << actual_name << " answered "
                      << got.size() << " values, " << expected_name << " " << want.size();
      continue;
    }
    for (std::size_t i = 0; i < want.size(); ++i)
      if (got[i] != want[i] && mismatches++ < reported)
        ADD_FAILURE() << "case " << n << ", " << describe_case(c) << ", value " << i << ":\n  " << values_around(c, i)
                      << "\n  " << expected_name << ": " << describe(want[i]) << "\n  " << actual_name << ": "
                      << describe(got[i]);
  }
  return mismatches;
}

}  // namespace

TEST(SpcReference, EvaluateAgreesWithIndependentImplementation) {
  const std::vector<Case> cases = make_cases();
  std::size_t total_values = 0;
  for (const Case& c : cases) total_values += c.values.size();
  ASSERT_GE(total_values, 50000u) << "the random cases should hold at least 50,000 values";

  const std::vector<Answers> reference = reference_answers(cases);
  ASSERT_EQ(reference.size(), cases.size()) << "tests/reference/nelson.py answered a different number of cases";

  std::vector<Answers> evaluated;
  for (const Case& c : cases) evaluated.push_back(spc::evaluate(c.values, c.zones));
  const int mismatches = report_mismatches(cases, reference, evaluated, "reference (nelson.py)", "spc::evaluate");
  EXPECT_EQ(mismatches, 0) << "values whose rules differ, of " << total_values;

  // The data must exercise every rule, and leave values that fire nothing.
  std::array<int, 9> fired_per_rule{};
  int quiet_values = 0;
  for (const Answers& answers : reference)
    for (const auto& fired : answers) {
      if (fired.empty()) ++quiet_values;
      for (const Violation& v : fired) ++fired_per_rule.at(v.rule);
    }
  for (int rule = 1; rule <= 8; ++rule) EXPECT_GT(fired_per_rule[rule], 0) << "rule " << rule << " never fired";
  EXPECT_GT(quiet_values, 0);
}

TEST(SpcReference, ChunksWithPrimedHistoryAgreeWithOnePass) {
  // A caller continuing stored history makes a new window per chunk: it adds the last (up to) 15
  // stored values, ignoring their answers, with the first position set so that they keep their own
  // positions, then adds the chunk's new values.
  const auto in_chunks = [](const Case& c) {
    std::mt19937_64 rng(c.seed);
    Answers answers;
    std::size_t next = 0;  // position of the chunk's first new value
    while (next < c.values.size()) {
      const std::size_t chunk = std::min<std::size_t>(uniform_int(rng, 1, 60), c.values.size() - next);
      const std::size_t primed = std::min<std::size_t>(longest_window, next);
      spc::NelsonWindow window(c.zones);
      window.set_first_position(next - primed);
      for (std::size_t i = next - primed; i < next; ++i) window.add(c.values[i]);
      for (std::size_t i = next; i < next + chunk; ++i) answers.push_back(window.add(c.values[i]));
      next += chunk;
    }
    return answers;
  };
  const std::vector<Case> cases = make_cases();
  std::vector<Answers> one_pass, chunked;
  for (const Case& c : cases) {
    one_pass.push_back(spc::evaluate(c.values, c.zones));
    chunked.push_back(in_chunks(c));
  }
  const int mismatches = report_mismatches(cases, one_pass, chunked, "one pass", "in chunks");
  EXPECT_EQ(mismatches, 0);
}
