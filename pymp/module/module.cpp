// dragon._dragon: the thin layer the dragon package builds multiprocessing on.
#include "bindings.hpp"
#include "errors.hpp"

#include "core/job.hpp"
#include "core/registry.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_dragon, m)
{
    m.doc() = "Dragon's data plane (pools, channels) for the dragon package";
    // A process of the package attaches pools and nothing else: no transport or launcher
    // plugin (and none of their libraries' signal handlers) in a user's process.
    dragon::Registry::load_only({DRAGON_PLUGIN_MEMORY});
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
