#include "platform/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <stdexcept>

namespace spectra::metrics {
namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  // The shortest text that reads back as the same double ("0.1", not "0.10000000000000001").
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

void check_arity(std::initializer_list<std::string_view> values, std::size_t expected, const std::string& name) {
  if (values.size() != expected) throw std::logic_error("metric " + name + ": wrong number of label values");
}

// The series of `values` in `map`, made on first use (the only time the values are copied).
template <class Map>
typename Map::mapped_type& series_of(Map& map, std::initializer_list<std::string_view> values) {
  auto it = map.find(values);
  if (it == map.end()) it = map.emplace(std::vector<std::string>(values.begin(), values.end()), typename Map::mapped_type{}).first;
  return it->second;
}

Labels labels_of(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  Labels out;
  for (std::size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], values[i]);
  return out;
}

}  // namespace

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Writer::family(std::string_view name, std::string_view type, std::string_view help) {
  out_.append("# HELP ").append(name).append(" ");
  for (const char c : help) out_ += c == '\n' ? ' ' : c;
  out_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void Writer::sample(std::string_view name, const Labels& labels, double value) {
  out_.append(name);
  if (!labels.empty()) {
    out_ += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ',';
      out_.append(labels[i].first).append("=\"").append(escape_label(labels[i].second)).append("\"");
    }
    out_ += '}';
  }
  out_.append(" ").append(number(value)).append("\n");
}

void Writer::gauge(std::string_view name, std::string_view help, double value) {
  family(name, "gauge", help);
  sample(name, {}, value);
}

void Writer::counter(std::string_view name, std::string_view help, double value) {
  family(name, "counter", help);
  sample(name, {}, value);
}

Counter::Counter(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void Counter::add(std::initializer_list<std::string_view> values, double by) {
  check_arity(values, label_names_.size(), name_);
  std::lock_guard lock(mutex_);
  series_of(values_, values) += by;
}

void Counter::write(Writer& w) const {
  w.family(name_, "counter", help_);
  std::lock_guard lock(mutex_);
  for (const auto& [key, value] : values_) w.sample(name_, labels_of(label_names_, key), value);
}

std::vector<double> latency_buckets() { return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}; }

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(std::initializer_list<std::string_view> values, double value) {
  check_arity(values, label_names_.size(), name_);
  const auto bucket = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock(mutex_);
  auto& s = series_of(series_, values);
  if (s.buckets.empty()) s.buckets.assign(bounds_.size() + 1, 0);  // the last: above every bound
  ++s.buckets[bucket];
  s.sum += value;
  ++s.count;
}

void Histogram::write(Writer& w) const {
  w.family(name_, "histogram", help_);
  const std::string bucket_name = name_ + "_bucket", sum_name = name_ + "_sum", count_name = name_ + "_count";
  std::lock_guard lock(mutex_);
  for (const auto& [key, s] : series_) {
    Labels labels = labels_of(label_names_, key);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += s.buckets[i];
      const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
      Labels with_le = labels;
      with_le.emplace_back("le", le);
      w.sample(bucket_name, with_le, static_cast<double>(cumulative));
    }
    w.sample(sum_name, labels, s.sum);
    w.sample(count_name, labels, static_cast<double>(s.count));
  }
}

Counter& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<Counter>(name, help, std::move(label_names));
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<std::string> label_names,
                               std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto& slot = histograms_[name];
  if (!slot) slot = std::make_unique<Histogram>(name, help, std::move(label_names), std::move(bounds));
  return *slot;
}

int Registry::add_collector(Collector c) {
  std::lock_guard lock(mutex_);
  const int id = next_id_++;
  collectors_.emplace(id, std::move(c));
  return id;
}

void Registry::remove_collector(int id) {
  std::lock_guard lock(mutex_);
  collectors_.erase(id);
}

std::string Registry::text() const {
  Writer w;
  std::lock_guard lock(mutex_);
  for (const auto& [name, c] : counters_) c->write(w);
  for (const auto& [name, h] : histograms_) h->write(w);
  for (const auto& [id, collect] : collectors_) collect(w);
  return w.text();
}

}  // namespace spectra::metrics
