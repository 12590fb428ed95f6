// dragon._dragon: the thin layer the dragon package builds multiprocessing on.
#include "bindings.hpp"
#include "errors.hpp"

#include "core/job.hpp"
#include "core/registry.hpp"
#include "dataplane/polling_waiters.hpp"

#include <cstdlib>

namespace py = pybind11;

PYBIND11_MODULE(_dragon, m)
{
    m.doc() = "Dragon's data plane (pools, channels) for the dragon package";
    // A process of the package attaches pools and nothing else: no transport or launcher
    // plugin (and none of their libraries' signal handlers) in a user's process.
    dragon::Registry::load_only({DRAGON_PLUGIN_MEMORY});
    // Our waits that poll count themselves where the machine's other processes of
    // the job see them (dataplane/polling_waiters.hpp); outside a job, per process.
    if (const char *table = std::getenv("DRAGON_POLLING_TABLE"); table && *table)
        dragon::count_polling_in_machine_table(table, false);
    dragon::py_module::register_errors(m);
    m.def(
        "job_id", [] { return dragon::job_id(); }, "DRAGON_JOB_ID, or p<pid> outside a job");
    m.def("segment_name", &dragon::segment_name, py::arg("local"),
          "The full segment name 'dragon-<job>-<local>'");
    dragon::py_module::bind_pool(m);
    dragon::py_module::bind_channel(m);
    dragon::py_module::bind_semlock(m);
    dragon::py_module::bind_fd_wait(m);
    dragon::py_module::bind_bytes(m);
}
