#pragma once
// The eight Nelson rules (L. S. Nelson, "The Shewhart Control Chart — Tests for Special Causes",
// Journal of Quality Technology 16(4), 1984) over the values a chart plots: individuals on an I-MR
// chart, subgroup means on an X̄-R chart. A plain module with no database, unit-tested rule by rule
// and checked against an independent implementation (tests/reference/nelson.py) on random data.
//
// With d = x − center, a point is "beyond kσ above" when d > k·σ_above and "beyond kσ below" when
// d < −k·σ_below (σ_above = (UCL − center)/3, σ_below = (center − LCL)/3: the two are equal unless fixed
// limits are asymmetric); "within 1σ" is neither beyond 1σ above nor below. Each rule reads the window
// of the last k values ending at the newest one, and fires on the newest value when:
//   1. it is beyond 3σ (either side)                                     k = 1
//   2. the last 9 are all on one side of the center (d > 0, or d < 0)    k = 9
//   3. the last 6 are strictly increasing, or strictly decreasing        k = 6
//   4. the last 14 alternate up and down (13 differences, none zero,
//      each of the opposite sign to the one before)                      k = 14
//   5. 2 of the last 3 are beyond 2σ on one side, the newest among them  k = 3
//   6. 4 of the last 5 are beyond 1σ on one side, the newest among them  k = 5
//   7. the last 15 are all within 1σ                                     k = 15
//   8. the last 8 are all beyond 1σ (either side)                        k = 8
// A violation lists the positions of its whole window, oldest first. A long pattern fires on every
// value that ends a qualifying window (a run of 10 on one side fires rule 2 on the 9th and the 10th);
// the alert logic joins consecutive firings into one alert.
//
// Evaluation is O(1) per value: the window keeps the last 15 values, the longest any rule reads.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace spectra::spc {

// The center line and the width of one σ zone on each side.
struct Zones {
  double center = 0;
  double sigma_above = 0;
  double sigma_below = 0;
};
// From control limits: σ_above = (ucl − center)/3, σ_below = (center − lcl)/3.
Zones zones_from_limits(double center, double ucl, double lcl) noexcept;

struct Violation {
  int rule = 0;                        // 1..8
  std::vector<std::uint64_t> points;   // positions of the window, oldest first
  bool operator==(const Violation&) const = default;
};

// How many values each rule reads (index 1..8; [0] unused), and the rule in a few words.
inline constexpr std::array<int, 9> rule_window = {0, 1, 9, 6, 14, 3, 5, 15, 8};
std::string_view rule_text(int rule) noexcept;

class NelsonWindow {
 public:
  explicit NelsonWindow(Zones zones) noexcept : zones_(zones) {}
  // Adds the next plotted value at the next position and answers the rules it fires, in rule order.
  // Positions count from the first value added (0 unless set_first_position says otherwise). A caller
  // continuing stored history sets the position of the oldest stored value it replays, adds the last
  // 14 or more stored values (ignoring their answers), then the new ones.
  std::vector<Violation> add(double value);
  // The position the next value takes.
  std::uint64_t next_position() const noexcept { return first_ + count_; }
  // The position of the first value added (call before adding any).
  void set_first_position(std::uint64_t first) noexcept { first_ = first; }

 private:
  static constexpr int capacity = 16;  // a power of two ≥ the longest window (15)
  double at(int back) const noexcept { return ring_[(count_ - 1 - back) & (capacity - 1)]; }  // back = 0: newest
  Zones zones_;
  std::array<double, capacity> ring_{};
  std::uint64_t count_ = 0;
  std::uint64_t first_ = 0;
};

// Every violation of a whole sequence, value by value: answers[i] are the rules values[i] fires.
// (The same as adding each value to one NelsonWindow; used by tests and by the reference check.)
std::vector<std::vector<Violation>> evaluate(const std::vector<double>& values, Zones zones);

}  // namespace spectra::spc
