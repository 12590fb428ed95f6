// Pool: the node's shared-memory pool every channel of the job lives in.
#include "bindings.hpp"

#include "core/memory.hpp"
#include "dataplane/holders.hpp"
#include "dataplane/pool.hpp"

#include <pybind11/stl.h>

namespace py = pybind11;

namespace dragon::py_module {

void bind_pool(py::module_ &m)
{
    py::class_<Pool, std::shared_ptr<Pool>>(m, "Pool")
        .def_static("attach", &Pool::attach, py::arg("plugin"), py::arg("segment"),
                    py::call_guard<py::gil_scoped_release>())
        .def_static(
            "create",
            [](const std::string &segment, size_t size, const std::string &plugin) {
                MemoryPlugin chosen =
                    plugin.empty() ? MemoryPlugin::selected() : MemoryPlugin::named(plugin);
                return Pool::create(chosen, segment, size);
            },
            py::arg("segment"), py::arg("size"), py::arg("plugin") = "",
            "A new pool (tests and tools; a job's processes attach the node's pool)")
        .def_property_readonly("name", &Pool::name)
        .def_property_readonly("plugin_name", &Pool::plugin_name)
        .def("stats",
             [](const Pool &p) {
                 PoolStats s = p.stats();
                 py::dict d;
                 d["capacity"] = s.capacity;
                 d["bytes_in_use"] = s.bytes_in_use;
                 d["high_water"] = s.high_water;
                 d["allocations_total"] = s.allocations_total;
                 d["allocations_live"] = s.allocations_live;
                 d["largest_free"] = s.largest_free;
                 return d;
             })
        .def(
            "release_process", [](Pool &p, uint32_t pid) { return release_process(p, pid); },
            py::arg("pid"), py::call_guard<py::gil_scoped_release>(),
            "Gives back every channel reference of a process known to be dead (its reaper "
            "calls this); returns how many")
        .def(
            "release_dead_holders", [](Pool &p) { return release_dead_holders(p); },
            py::call_guard<py::gil_scoped_release>())
        .def("holder_count", [](Pool &p) { return holder_count(p); })
        .def(
            "holder_bytes", [](Pool &p) { return holder_bytes(p); },
            "Pool bytes the holder table and the holders' reference maps take")
        .def("destroy", &Pool::destroy);
}

} // namespace dragon::py_module
