// N CPU-bound processes running beside a measurement (communication on a machine
// whose cores are busy, as with a worker per core). They die with the bench
// (parent-death signal) and are killed and reaped when this object goes.
#pragma once

#include <sys/types.h>
#include <vector>

namespace dragon::bench {

class BusyNeighbours {
public:
    explicit BusyNeighbours(int n);
    ~BusyNeighbours();
    BusyNeighbours(const BusyNeighbours &) = delete;
    BusyNeighbours &operator=(const BusyNeighbours &) = delete;

private:
    std::vector<pid_t> pids_;
};

} // namespace dragon::bench
