// Deciding whether hugepage segments can work here, from the text of
// /proc/mounts and /proc/meminfo (pure, so tests can feed it any machine).
#pragma once

#include <cstddef>
#include <string>

namespace dragon::hugepage {

struct Facts {
    std::string dir;       // hugetlbfs directory segments live in
    size_t page_size = 0;  // bytes per huge page
    long free_pages = -1;  // HugePages_Free
    long total_pages = -1; // HugePages_Total
    std::string problem;   // empty: usable; else why not, and the fix
};

// `dir_param` is DRAGON_MEMORY_HUGEPAGE_DIR ("" to find a hugetlbfs mount by itself).
Facts examine(const std::string &dir_param, const std::string &mounts_text,
              const std::string &meminfo_text);

// What is wrong with asking these facts for a node pool of `pool_size` bytes (the
// free huge pages hold less), naming DRAGON_DEFAULT_SEG_SZ; "" if it fits. Node pools
// are the largest segments a job asks for, so the probe weighs them.
std::string pool_size_problem(const Facts &facts, size_t pool_size);

// DRAGON_DEFAULT_SEG_SZ as the framework reads it (K/M/G/T = powers of 1024), 4G when
// unset; 0 when malformed (the framework reports that itself).
size_t requested_pool_size(const char *text);

// The same, reading this machine's /proc files and checking the directory is writable.
Facts examine_this_machine(const std::string &dir_param);

} // namespace dragon::hugepage
