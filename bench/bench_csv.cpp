#include "bench_csv.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace dragon::bench {
namespace {

std::string number(double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// Metric names are ours, but a comma or quote in one must not shift the columns.
std::string quoted(const std::string &text)
{
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string out = "\"";
    for (char c : text)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// The 1-minute load average: a "quiet" row on a machine other jobs load is not an idle one.
std::string machine_load()
{
    double load[1];
    if (getloadavg(load, 1) != 1)
        return "";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", load[0]);
    return buf;
}

} // namespace

CsvTable::CsvTable(std::string bench, int busy, std::string path)
    : bench_(std::move(bench)), mode_(busy > 0 ? "busy" + std::to_string(busy) : "quiet"),
      path_(std::move(path))
{
    const char *dir = std::getenv("BENCH_CSV_DIR");
    if (path_.empty() && dir && *dir)
        path_ = std::string(dir) + "/" + bench_ + "-" + mode_ + ".csv";
}

void CsvTable::add(const std::string &metric, const std::string &unit, bool lower_is_better,
                   double ours, const std::string &baseline_name, double baseline)
{
    bool compared = !baseline_name.empty() && baseline > 0;
    rows_.push_back(
        bench_ + "," + mode_ + "," + quoted(metric) + "," + quoted(unit) + "," +
        (lower_is_better ? "lower" : "higher") + "," + number(ours) + "," +
        (compared ? quoted(baseline_name) + "," + number(baseline) + "," + number(ours / baseline)
                  : ",,") +
        "," + machine_load());
}

std::string CsvTable::write() const
{
    if (path_.empty())
        return "";
    auto parent = std::filesystem::path(path_).parent_path();
    std::error_code ec;
    if (!parent.empty())
        std::filesystem::create_directories(parent, ec);
    std::ofstream out(path_);
    out << "bench,mode,metric,unit,better,ours,baseline_name,baseline,ratio,machine_load\n";
    for (const auto &row : rows_)
        out << row << "\n";
    out.close();
    if (!out)
        throw std::runtime_error("cannot write " + path_ + ": " + std::strerror(errno) +
                                 "; check --csv or BENCH_CSV_DIR");
    std::printf("CSV: %s\n", path_.c_str());
    std::fflush(stdout);
    return path_;
}

} // namespace dragon::bench
