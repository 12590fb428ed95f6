// Forwards the stdout and stderr of the node's processes to the node's own, one
// whole line per write(2): no loss, and lines never interleave. Labels follow
// the frontend's --no-label / --basic-label / --verbose-label.
#pragma once

#include "frontend_options.hpp"

#include <map>
#include <string>
#include <sys/types.h>

namespace dragon::node {

class OutputForwarder {
public:
    OutputForwarder(cli::LabelMode mode, uint32_t node_index, std::string hostname);

    // Start forwarding `fd` (non-blocking read end of a pipe) as stream 1 or 2 of `pid`.
    void add(int fd, int stream, pid_t pid);
    // Reads what is available on `fd`; at end of file forwards the last partial line and
    // closes it. Returns false once the fd is closed.
    bool drain(int fd);
    // Every fd still open, for poll().
    std::vector<int> fds() const;
    bool empty() const { return sources_.empty(); }

private:
    struct Source {
        int stream;
        pid_t pid;
        std::string pending; // bytes after the last newline
    };
    void emit(const Source &source, std::string_view line);

    cli::LabelMode mode_;
    uint32_t node_index_;
    std::string hostname_;
    std::map<int, Source> sources_;
};

} // namespace dragon::node
