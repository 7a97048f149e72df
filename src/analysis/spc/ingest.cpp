#include "analysis/spc/ingest.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace spectra::spc {
namespace {

constexpr int longest_window = 15;

// The newest unresolved alert of a rule: its id, the seq of its newest point, and where it is in the
// outcome's changes (-1 until this batch touches it).
struct Current {
  std::string id;
  std::int64_t last_seq = 0;
  int change = -1;
};

}  // namespace

int history_points(const SeriesState& s) noexcept {
  const int n = s.chart == ChartType::xbar_r ? s.subgroup_size : 1;
  return (longest_window + 1) * n;  // 15 whole positions, and the partial subgroup before them or after
}

Outcome ingest(const SeriesState& before, const std::vector<StoredPoint>& history, const std::vector<double>& baseline,
               const std::vector<OpenAlert>& open, const std::vector<Incoming>& points,
               const std::function<std::string()>& new_id) {
  Outcome out;
  out.after = before;
  SeriesState& s = out.after;
  const std::int64_t n = s.chart == ChartType::xbar_r ? s.subgroup_size : 1;
  const std::int64_t stored = before.last_seq;

  // The values this batch can see, by seq: the stored tail, then the new ones.
  const std::int64_t first_seq = history.empty() ? stored + 1 : history.front().seq;
  std::vector<double> values;
  values.reserve(history.size() + points.size());
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (history[i].seq != first_seq + static_cast<std::int64_t>(i)) throw std::logic_error("SPC history is not contiguous");
    values.push_back(history[i].value);
  }
  if (!history.empty() && history.back().seq != stored) throw std::logic_error("SPC history does not end at the series' last point");
  auto at = [&](std::int64_t seq) -> std::size_t { return static_cast<std::size_t>(seq - first_seq); };

  // The plotted value of each whole position seen, from base_position on.
  std::vector<double> plotted;
  std::int64_t base_position = (first_seq - 1 + n - 1) / n;  // the first position whose points are all seen
  auto plot = [&](std::int64_t position) {
    double sum = 0;
    for (std::int64_t q = position * n + 1; q <= (position + 1) * n; ++q) sum += values[at(q)];
    return sum / static_cast<double>(n);
  };
  for (std::int64_t p = base_position; (p + 1) * n <= stored; ++p) plotted.push_back(plot(p));

  std::optional<NelsonWindow> window;
  auto start_window = [&](std::int64_t through) {  // primed with the positions up to `through`
    const Limits& l = *s.limits;
    window.emplace(zones_from_limits(l.center, l.ucl, l.lcl));
    const std::int64_t from = std::max(base_position, through - (longest_window - 1));
    window->set_first_position(static_cast<std::uint64_t>(from));
    for (std::int64_t p = from; p <= through; ++p) window->add(plotted[static_cast<std::size_t>(p - base_position)]);
  };
  if (s.limits) start_window(stored / n - 1);

  std::array<std::optional<Current>, 9> current;
  for (const auto& a : open)
    if (a.rule >= 1 && a.rule <= 8) current[a.rule] = Current{a.id, a.last_seq, -1};

  out.points.reserve(points.size());
  for (const auto& point : points) {
    const std::int64_t seq = ++s.last_seq;
    values.push_back(point.value);
    s.stats.add(point.value);
    PointOutcome po;
    po.seq = seq;
    if (s.chart == ChartType::xbar_r) po.subgroup = static_cast<int>((seq - 1) / n + 1);
    if (n == 1 && seq > 1) {
      s.range_sum += std::fabs(point.value - values[at(seq - 1)]);
      ++s.range_count;
    }
    if (seq % n != 0) {  // a subgroup still filling
      out.points.push_back(std::move(po));
      continue;
    }
    const std::int64_t position = seq / n - 1;
    if (n > 1) {
      const auto first = values.begin() + static_cast<std::ptrdiff_t>(at(seq - n + 1));
      const auto [lo, hi] = std::minmax_element(first, first + n);
      s.range_sum += *hi - *lo;
      ++s.range_count;
    }
    if (plotted.empty()) base_position = position;
    plotted.push_back(plot(position));

    if (!s.limits) {
      if (s.baseline_points && seq == *s.baseline_points) {
        std::vector<double> base(baseline.begin(), baseline.end());
        for (std::int64_t q = static_cast<std::int64_t>(base.size()) + 1; q <= seq; ++q) base.push_back(values[at(q)]);
        s.limits = n == 1 ? individuals_limits(base) : xbar_r_limits(base, static_cast<int>(n));
        if (s.limits) {
          out.limits_computed = true;
          start_window(position);
        }
      }
      out.points.push_back(std::move(po));
      continue;
    }

    const auto fired_here = window->add(plotted.back());
    po.violations.reserve(fired_here.size());
    for (const auto& v : fired_here) {
      // The window's positions are consecutive, oldest first: its points are one range of seqs.
      const Fired fired{v.rule, static_cast<std::int64_t>(v.points.front()) * n + 1,
                        (static_cast<std::int64_t>(v.points.back()) + 1) * n};
      auto& cur = current[v.rule];
      if (cur && position > 0 && cur->last_seq == position * n) {  // the position before fired it too
        if (cur->change < 0) {  // the window moved on by this position alone: link from its first point
          cur->change = static_cast<int>(out.alerts.size());
          out.alerts.push_back(AlertChange{cur->id, v.rule, false, 0, position * n + 1, seq});
        }
        out.alerts[static_cast<std::size_t>(cur->change)].last_seq = seq;
      } else {
        AlertChange change{new_id(), v.rule, true, seq, fired.first_seq, seq};
        cur = Current{change.id, seq, static_cast<int>(out.alerts.size())};
        out.alerts.push_back(std::move(change));
      }
      cur->last_seq = seq;
      po.violations.push_back(fired);
    }
    out.points.push_back(std::move(po));
  }
  return out;
}

const std::string& PointIds::operator()(std::int64_t seq) const {
  if (seq >= first_new_) {
    const auto i = static_cast<std::size_t>(seq - first_new_);
    if (i < points_.size()) return points_[i].id;
  } else if (!history_.empty() && seq >= history_.front().seq) {
    const auto i = static_cast<std::size_t>(seq - history_.front().seq);
    if (i < history_.size()) return history_[i].id;
  }
  throw std::out_of_range("SPC point " + std::to_string(seq) + " is not in the batch or its history");
}

void append_violations_json(std::string& out, const std::vector<Fired>& fired, const PointIds& ids) {
  out += '[';
  for (std::size_t i = 0; i < fired.size(); ++i) {
    out += i ? ",{\"rule\":" : "{\"rule\":";
    out += std::to_string(fired[i].rule);
    out += ",\"point_ids\":[";
    for (std::int64_t seq = fired[i].first_seq; seq <= fired[i].last_seq; ++seq) {
      out += seq != fired[i].first_seq ? ",\"" : "\"";
      out += ids(seq);  // a UUID: nothing to escape
      out += '"';
    }
    out += "]}";
  }
  out += ']';
}

}  // namespace spectra::spc
