// A bench's table, also as CSV for bench/plot.py: the same columns as the Python
// benches (bench/bench_csv.py):
//   bench, mode, metric, unit, better, ours, baseline_name, baseline, ratio, machine_load
// mode is "quiet" or "busyN" (N CPU-bound processes beside the measurement);
// machine_load is the 1-minute load average when the row was measured;
// better is "lower" (times) or "higher" (rates); ratio is ours / baseline, empty
// with the baseline when there is none to compare in the same run.
#pragma once

#include <string>
#include <vector>

namespace dragon::bench {

class CsvTable {
public:
    // Written to `path`, or when that is empty to $BENCH_CSV_DIR/<bench>-<mode>.csv,
    // or nowhere when neither is set.
    CsvTable(std::string bench, int busy, std::string path);

    // A negative `baseline` (not measured) leaves the comparison out.
    void add(const std::string &metric, const std::string &unit, bool lower_is_better, double ours,
             const std::string &baseline_name = "", double baseline = -1);
    // Returns the path written ("" when none); throws std::runtime_error naming it on failure.
    std::string write() const;

private:
    std::string bench_, mode_, path_;
    std::vector<std::string> rows_;
};

} // namespace dragon::bench
