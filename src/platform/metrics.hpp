#pragma once
// Prometheus metrics in the text exposition format (0.0.4): counters and histograms kept by label
// values, and collectors that write the gauges and counters other parts keep themselves (pools,
// queues, the sequencer) when a scrape asks. Label values are bounded by the callers (route templates,
// never raw paths). Debian has no maintained C++ client (prometheus-cpp is not packaged), so this is
// kept small and tested against Prometheus itself.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spectra::metrics {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// Orders label values as texts, whatever holds them: a request's values (string_views) find their
// series without a string being made; only a new series copies them.
struct ValuesLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](std::string_view x, std::string_view y) { return x < y; });
  }
};

// What a collector writes into: one family (HELP, TYPE) then its samples.
class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  // A family of one unlabelled sample.
  void gauge(std::string_view name, std::string_view help, double value);
  void counter(std::string_view name, std::string_view help, double value);
  const std::string& text() const noexcept { return out_; }

 private:
  std::string out_;
};

class Counter {
 public:
  Counter(std::string name, std::string help, std::vector<std::string> label_names);
  // `values` in the order of the label names.
  void add(std::initializer_list<std::string_view> values, double by = 1);
  void write(Writer& w) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, double, ValuesLess> values_;
};

class Histogram {
 public:
  Histogram(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds);
  void observe(std::initializer_list<std::string_view> values, double value);
  void write(Writer& w) const;

 private:
  struct Series {
    std::vector<std::uint64_t> buckets;  // per upper bound, not cumulative
    double sum = 0;
    std::uint64_t count = 0;
  };
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, Series, ValuesLess> series_;
};

// Request latencies: 1 ms to 30 s.
std::vector<double> latency_buckets();

class Registry {
 public:
  // The family of that name, made on first use (later calls must agree on its labels).
  Counter& counter(const std::string& name, const std::string& help, std::vector<std::string> label_names);
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                       std::vector<double> bounds);
  using Collector = std::function<void(Writer&)>;
  // A collector runs at every scrape until removed (by the id answered).
  int add_collector(Collector c);
  void remove_collector(int id);
  // Everything, as Prometheus reads it.
  std::string text() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Counter>> counters_;
  std::map<std::string, std::unique_ptr<Histogram>> histograms_;
  std::map<int, Collector> collectors_;
  int next_id_ = 1;
};

// Escapes a label value (backslash, double quote, newline).
std::string escape_label(std::string_view value);
// The media type of text().
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace spectra::metrics
