#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ih::metrics {
namespace {

void atomicAdd(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

std::string formatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string escapeHelp(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} (empty string when there are no labels), with an optional extra label appended.
std::string labelText(const Labels& labels, std::string_view extra_name = {},
                      std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escapeLabelValue(v);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += escapeLabelValue(extra_value);
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Gauge::add(double delta) {
  atomicAdd(value_, delta);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_([&] {
        std::sort(upper_bounds.begin(), upper_bounds.end());
        upper_bounds.erase(std::unique(upper_bounds.begin(), upper_bounds.end()), upper_bounds.end());
        return upper_bounds;
      }()),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double v) {
  size_t index = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[index].fetch_add(1, std::memory_order_relaxed);
  atomicAdd(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::bucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> defaultSecondsBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry::Series& Registry::find(std::string_view name, std::string_view help, Type type,
                                 const Labels& labels, const std::vector<double>* bounds) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family family{type, std::string(help), bounds ? *bounds : std::vector<double>{}, {}};
    it = families_.emplace(std::string(name), std::move(family)).first;
  }
  Family& family = it->second;
  std::string key = labelText(labels);
  auto series = family.series.find(key);
  if (series != family.series.end()) return series->second;
  Series s;
  s.labels = labels;
  // The family's type wins over the caller's (first registration decides); every pointer is created so that
  // a mismatched caller still gets a usable object.
  s.counter = std::make_unique<Counter>();
  s.gauge = std::make_unique<Gauge>();
  s.histogram =
      std::make_unique<Histogram>(family.type == Type::kHistogram ? family.bounds : std::vector<double>{});
  return family.series.emplace(std::move(key), std::move(s)).first->second;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  return *find(name, help, Type::kCounter, labels, nullptr).counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return *find(name, help, Type::kGauge, labels, nullptr).gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, const Labels& labels,
                               const std::vector<double>& upper_bounds) {
  return *find(name, help, Type::kHistogram, labels, &upper_bounds).histogram;
}

std::string Registry::exposition() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(families_.size() * 256);
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + escapeHelp(family.help) + "\n";
    switch (family.type) {
      case Type::kCounter:
        out += "# TYPE " + name + " counter\n";
        for (const auto& [key, s] : family.series) {
          out += name + key + " " + std::to_string(s.counter->value()) + "\n";
        }
        break;
      case Type::kGauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& [key, s] : family.series)
          out += name + key + " " + formatNumber(s.gauge->value()) + "\n";
        break;
      case Type::kHistogram: {
        out += "# TYPE " + name + " histogram\n";
        for (const auto& [key, s] : family.series) {
          const Histogram& h = *s.histogram;
          std::vector<uint64_t> counts = h.bucketCounts();
          uint64_t cumulative = 0;
          for (size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            std::string le = i < h.upperBounds().size() ? formatNumber(h.upperBounds()[i]) : "+Inf";
            out += name + "_bucket" + labelText(s.labels, "le", le) + " " + std::to_string(cumulative) + "\n";
          }
          out += name + "_sum" + key + " " + formatNumber(h.sum()) + "\n";
          // _count equals the +Inf bucket so that a scrape racing with observe() stays self-consistent.
          out += name + "_count" + key + " " + std::to_string(cumulative) + "\n";
        }
        break;
      }
    }
  }
  return out;
}

Registry& registry() {
  static Registry* global = new Registry();  // intentionally leaked: usable during static destruction
  return *global;
}

}  // namespace ih::metrics
