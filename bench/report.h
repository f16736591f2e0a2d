#pragma once
// The bench's measurements: latency samples, the table of targets (report.cc) and the lines
// printed for them. Single-threaded.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tpm2emu::bench {

// Latencies of one operation, in milliseconds.
class Samples {
 public:
  void Add(double ms) { ms_.push_back(ms); }
  size_t size() const { return ms_.size(); }
  // Nearest-rank percentile, q in (0, 1]; 0 when empty.
  double Percentile(double q) const;
  double Max() const;

 private:
  std::vector<double> ms_;
};

// Prints one line per measurement, checked against the target of the same name if the table
// has one, and a summary line. With enforce false (sanitizer builds) targets are still shown
// but a miss does not fail the run.
class Report {
 public:
  explicit Report(bool enforce) : enforce_(enforce) {}

  // `unit` must be the unit of the measurement's target, if it has one ("ms", "cmd/s", "MiB").
  void Add(std::string_view name, double value, std::string_view unit);
  // p50, p99 and max of `samples`, as name.p50, name.p99 and name.max.
  void AddLatency(std::string_view name, const Samples& samples);
  // Reports a measurement that could not be taken; it counts as a failure even unenforced.
  void AddError(std::string_view what);

  // Prints the summary line; returns the process exit status: 0 when every target was met (or
  // targets are not enforced) and nothing failed to run, 1 otherwise. A target in the table
  // that no measurement reported counts as missed, so renaming a measurement cannot drop it.
  int Finish(std::string_view mode);

 private:
  bool enforce_;
  size_t measured_ = 0;
  size_t met_ = 0;
  std::vector<std::string> missed_;
  size_t errors_ = 0;
  std::vector<std::string> seen_;
};

}  // namespace tpm2emu::bench
