// await_readable(fd): looks at a file descriptor for a short while before the
// caller blocks on it, the way channel receives wait (dataplane/spin_phase.hpp).
//
// Why: a stock socket Connection (a Manager's, Listener/Client) blocks in read(),
// and waking a blocked thread costs tens of microseconds on a VM, twice per
// request/reply. Looking with poll(timeout 0), then yielding the CPU between
// looks, sees a reply that comes within the spin window without either wake-up.
#include "bindings.hpp"

#include "dataplane/spin_phase.hpp"
#include "dataplane/wake_slice.hpp"

#include <cerrno>
#include <poll.h>

namespace py = pybind11;

namespace dragon::py_module {
namespace {

// 1: readable (or hung up: the read will say so), 0: not yet, -1: poll() failed.
int look(int fd)
{
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, 0);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    return n > 0 ? 1 : 0;
}

} // namespace

void bind_fd_wait(py::module_ &m)
{
    m.def(
        "await_readable",
        [](int fd, double wait) {
            py::gil_scoped_release unlocked;
            for (SpinPhase spin;;) {
                int r = look(fd);
                if (r != 0)
                    return r > 0;
                if (!spin.keep_polling())
                    break;
            }
            if (wait <= 0)
                return false;
            // Asleep here rather than in the caller's read: a short slice while asleep
            // lets the wake-up preempt a CPU-bound neighbour (dataplane/wake_slice.hpp).
            ShortSliceAsleep wake_promptly;
            pollfd p{fd, POLLIN, 0};
            int n = poll(&p, 1, int(wait * 1000));
            return n != 0; // readable, hung up, or poll failed: the read says which
        },
        py::arg("fd"), py::arg("wait") = 0.0,
        "Whether fd became readable within the data plane's spin window (about 200 us) "
        "or, after it, within `wait` seconds asleep; False also when poll() fails without "
        "`wait`, so the caller's blocking read reports the error");
}

} // namespace dragon::py_module
