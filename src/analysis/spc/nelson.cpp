#include "analysis/spc/nelson.hpp"

namespace spectra::spc {

Zones zones_from_limits(double center, double ucl, double lcl) noexcept {
  return Zones{center, (ucl - center) / 3.0, (center - lcl) / 3.0};
}

std::string_view rule_text(int rule) noexcept {
  switch (rule) {
    case 1: return "one point beyond 3σ";
    case 2: return "nine points in a row on one side of the center line";
    case 3: return "six points in a row steadily increasing or decreasing";
    case 4: return "fourteen points in a row alternating up and down";
    case 5: return "two of three points beyond 2σ on one side";
    case 6: return "four of five points beyond 1σ on one side";
    case 7: return "fifteen points in a row within 1σ";
    case 8: return "eight points in a row beyond 1σ";
    default: return "unknown rule";
  }
}

std::vector<Violation> NelsonWindow::add(double value) {
  ring_[count_ & (capacity - 1)] = value;
  ++count_;
  const auto n = static_cast<int>(count_ < capacity ? count_ : capacity);
  const Zones& z = zones_;
  auto d = [&](int back) { return at(back) - z.center; };
  auto above = [&](int back, double k) { return d(back) > k * z.sigma_above; };
  auto below = [&](int back, double k) { return d(back) < -k * z.sigma_below; };

  std::vector<Violation> out;
  auto fire = [&](int rule) {
    const int k = rule_window[rule];
    Violation v{rule, {}};
    v.points.reserve(k);
    const std::uint64_t newest = first_ + count_ - 1;
    for (int back = k - 1; back >= 0; --back) v.points.push_back(newest - back);
    out.push_back(std::move(v));
  };
  // Whether pred holds for each of the last k values.
  auto all = [&](int k, auto pred) {
    if (n < k) return false;
    for (int back = 0; back < k; ++back)
      if (!pred(back)) return false;
    return true;
  };
  auto count_of = [&](int k, auto pred) {
    int c = 0;
    for (int back = 0; back < k; ++back) c += pred(back) ? 1 : 0;
    return c;
  };

  // 1. beyond 3σ
  if (above(0, 3) || below(0, 3)) fire(1);
  // 2. nine on one side
  if (all(9, [&](int b) { return d(b) > 0; }) || all(9, [&](int b) { return d(b) < 0; })) fire(2);
  // 3. six steadily increasing or decreasing (five differences of one sign)
  if (all(5, [&](int b) { return n >= 6 && at(b) > at(b + 1); }) ||
      all(5, [&](int b) { return n >= 6 && at(b) < at(b + 1); }))
    fire(3);
  // 4. fourteen alternating: 13 differences, each nonzero and of the opposite sign to the one before
  if (n >= 14) {
    bool alternating = true;
    for (int back = 0; back < 12 && alternating; ++back) {
      const double newer = at(back) - at(back + 1), older = at(back + 1) - at(back + 2);
      alternating = (newer > 0 && older < 0) || (newer < 0 && older > 0);
    }
    if (alternating) fire(4);
  }
  // 5. two of three beyond 2σ on one side, the newest among them
  if (n >= 3 && ((above(0, 2) && count_of(3, [&](int b) { return above(b, 2); }) >= 2) ||
                 (below(0, 2) && count_of(3, [&](int b) { return below(b, 2); }) >= 2)))
    fire(5);
  // 6. four of five beyond 1σ on one side, the newest among them
  if (n >= 5 && ((above(0, 1) && count_of(5, [&](int b) { return above(b, 1); }) >= 4) ||
                 (below(0, 1) && count_of(5, [&](int b) { return below(b, 1); }) >= 4)))
    fire(6);
  // 7. fifteen within 1σ
  if (all(15, [&](int b) { return !above(b, 1) && !below(b, 1); })) fire(7);
  // 8. eight beyond 1σ, either side
  if (all(8, [&](int b) { return above(b, 1) || below(b, 1); })) fire(8);
  return out;
}

std::vector<std::vector<Violation>> evaluate(const std::vector<double>& values, Zones zones) {
  NelsonWindow w(zones);
  std::vector<std::vector<Violation>> out;
  out.reserve(values.size());
  for (double v : values) out.push_back(w.add(v));
  return out;
}

}  // namespace spectra::spc
