#include "hugepage_probe.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace dragon::hugepage {
namespace {

long meminfo_value(const std::string &meminfo, const std::string &key)
{
    std::istringstream in(meminfo);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(key + ":", 0) != 0)
            continue;
        std::istringstream fields(line.substr(key.size() + 1));
        long value = -1;
        fields >> value;
        return value;
    }
    return -1;
}

size_t parse_pagesize_option(const std::string &options)
{
    size_t at = options.find("pagesize=");
    if (at == std::string::npos)
        return 0;
    std::string v = options.substr(at + 9, options.find(',', at) - at - 9);
    size_t n = std::strtoull(v.c_str(), nullptr, 10);
    char unit = v.empty() ? 0 : v.back();
    if (unit == 'K' || unit == 'k')
        n <<= 10;
    else if (unit == 'M' || unit == 'm')
        n <<= 20;
    else if (unit == 'G' || unit == 'g')
        n <<= 30;
    return n;
}

std::string read_file(const char *path)
{
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace

Facts examine(const std::string &dir_param, const std::string &mounts_text,
              const std::string &meminfo_text)
{
    Facts f;
    long default_kb = meminfo_value(meminfo_text, "Hugepagesize");
    f.free_pages = meminfo_value(meminfo_text, "HugePages_Free");
    f.total_pages = meminfo_value(meminfo_text, "HugePages_Total");
    size_t default_size = default_kb > 0 ? static_cast<size_t>(default_kb) * 1024 : 0;

    // Find the mount: the one named by the parameter, else the first hugetlbfs of the default size.
    std::istringstream in(mounts_text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string source, mount_point, type, options;
        fields >> source >> mount_point >> type >> options;
        if (type != "hugetlbfs")
            continue;
        size_t size = parse_pagesize_option(options);
        if (size == 0)
            size = default_size;
        if (!dir_param.empty() ? mount_point == dir_param : size == default_size) {
            f.dir = mount_point;
            f.page_size = size;
            break;
        }
    }

    if (f.total_pages < 0 || default_size == 0) {
        f.problem = "this kernel reports no huge pages in /proc/meminfo (HugePages_Total missing)";
    } else if (f.dir.empty() && !dir_param.empty()) {
        f.problem = "DRAGON_MEMORY_HUGEPAGE_DIR=" + dir_param +
                    " is not a hugetlbfs mount point (see /proc/mounts)";
    } else if (f.dir.empty()) {
        f.problem = "no hugetlbfs is mounted: as root, mount -t hugetlbfs -o mode=1777 none "
                    "/dev/hugepages (or set DRAGON_MEMORY_HUGEPAGE_DIR to one)";
    } else if (f.free_pages <= 0) {
        f.problem = "HugePages_Free is 0: reserve pages with vm.nr_hugepages (as root: echo 64 > "
                    "/proc/sys/vm/nr_hugepages)";
    }
    return f;
}

std::string pool_size_problem(const Facts &f, size_t pool_size)
{
    if (f.free_pages < 0 || f.page_size == 0 || pool_size == 0)
        return "";
    size_t free_bytes = static_cast<size_t>(f.free_pages) * f.page_size;
    if (pool_size <= free_bytes)
        return "";
    return "the node pool (DRAGON_DEFAULT_SEG_SZ=" + std::to_string(pool_size >> 20) +
           "M) needs more than the " + std::to_string(f.free_pages) + " free huge pages (" +
           std::to_string(free_bytes >> 20) +
           " MiB): set DRAGON_DEFAULT_SEG_SZ=" + std::to_string(free_bytes >> 20) +
           "M or less, or reserve more pages (vm.nr_hugepages)";
}

size_t requested_pool_size(const char *text)
{
    if (!text || !*text)
        return size_t(4) << 30;
    char *end = nullptr;
    double value = std::strtod(text, &end);
    if (end == text || value <= 0)
        return 0;
    std::string unit(end);
    if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b'))
        unit.pop_back();
    if (!unit.empty() && (unit.back() == 'i'))
        unit.pop_back();
    double scale = 1;
    if (unit == "K" || unit == "k")
        scale = 1024.0;
    else if (unit == "M" || unit == "m")
        scale = 1024.0 * 1024;
    else if (unit == "G" || unit == "g")
        scale = 1024.0 * 1024 * 1024;
    else if (unit == "T" || unit == "t")
        scale = 1024.0 * 1024 * 1024 * 1024;
    else if (!unit.empty())
        return 0;
    return static_cast<size_t>(value * scale);
}

Facts examine_this_machine(const std::string &dir_param)
{
    Facts f = examine(dir_param, read_file("/proc/mounts"), read_file("/proc/meminfo"));
    if (f.problem.empty() && access(f.dir.c_str(), W_OK) != 0)
        f.problem = "the hugetlbfs mount " + f.dir + " is not writable for this user (" +
                    std::strerror(errno) + "): mount it with mode=1777 or a group you are in";
    return f;
}

} // namespace dragon::hugepage
