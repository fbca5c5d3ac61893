// Metrics: a small thread-safe registry of counters, gauges and fixed-bucket histograms with label sets, and
// their Prometheus text exposition (format 0.0.4). One process-global registry (metrics::registry()).
//
// Hot paths: look a series up once (a mutex-guarded map lookup), keep the returned reference, then update it
// with relaxed atomics only. References stay valid for the registry's lifetime (series are never removed).
// Registering the same name with another type or other buckets is a programmer error: the first registration
// wins and the later call gets that series anyway (a warning is not worth a dependency on logging here).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ih::metrics {

// Label names and values, e.g. {{"integration","stripe"},{"result","accepted"}}. Order is kept in the output.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double delta);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets with fixed upper bounds (ascending; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  const std::vector<double>& upperBounds() const { return bounds_; }
  // Per-bucket (non-cumulative) counts; the last entry is the +Inf bucket.
  std::vector<uint64_t> bucketCounts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Default latency buckets in seconds: 1 ms … 10 s.
std::vector<double> defaultSecondsBuckets();

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Find-or-create a series. `help` is used by the first registration of `name`. Thread-safe; the reference
  // is valid as long as the registry lives. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]* (programmer errors otherwise; not checked on the hot path).
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const Labels& labels = {},
                       const std::vector<double>& upper_bounds = defaultSecondsBuckets());

  // Prometheus text exposition of every series, families sorted by name. Thread-safe.
  std::string exposition() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // key: canonical label text
  };
  Series& find(std::string_view name, std::string_view help, Type type, const Labels& labels,
               const std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // GUARDED_BY(mu_)
};

// The process-global registry (never destroyed, so handles stay valid during static destruction).
Registry& registry();

// Escapes a label value for the exposition format (backslash, double quote, newline).
std::string escapeLabelValue(std::string_view value);

}  // namespace ih::metrics
