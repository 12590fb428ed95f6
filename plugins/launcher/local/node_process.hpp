// Starting one simulated node: its environment and its fork/exec.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dragon::launcher_local {

// This process's environment without any outer PMIx server's variables (PMIX_MCA_*
// settings stay), then `pmix_env` (how to reach our server), `extra` (the request's),
// and DRAGON_NODE_INDEX / DRAGON_NUM_NODES; later entries replace earlier ones.
std::vector<std::string> node_environment(const std::vector<std::string> &pmix_env,
                                          const std::vector<std::string> &extra, uint32_t index,
                                          uint32_t count);

// Full path of the program argv[0] names (searched on PATH when it has no '/').
// Throws dragon::Error naming the program when there is none to execute.
std::string resolve_program(const std::string &name);

// A simulated node that is to look like a separate host gets a UTS namespace with its
// own host name here; its network namespace it enters itself (DRAGON_NODE_NETNS), once
// it has connected to our PMIx server on this namespace's loopback.
// It also gets CPUs of its own (`cpus`: empty, all of ours), as a separate host has:
// processes of two nodes then never share a CPU unless there are more nodes than CPUs.
struct SeparateHost {
    std::string hostname;
    std::vector<int> cpus;
};

// fork/exec of `program` in its own process group, stdin kept or /dev/null, stdout and
// stderr inherited; inside `host`'s namespaces when given. Returns once the exec
// succeeded; throws dragon::Error (with the errno of what failed) otherwise.
pid_t spawn_node(const std::string &program, const std::vector<std::string> &argv,
                 const std::vector<std::string> &env, bool keep_stdin,
                 const SeparateHost *host = nullptr);

} // namespace dragon::launcher_local
