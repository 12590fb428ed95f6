#include "output_forwarder.hpp"

#include <cerrno>
#include <unistd.h>

namespace dragon::node {
namespace {

void write_all(int fd, const std::string &data)
{
    const char *p = data.data();
    size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; // the reader is gone; nothing more we can do with this output
        p += n;
        left -= static_cast<size_t>(n);
    }
}

} // namespace

OutputForwarder::OutputForwarder(cli::LabelMode mode, uint32_t node_index, std::string hostname)
    : mode_(mode), node_index_(node_index), hostname_(std::move(hostname))
{
}

void OutputForwarder::add(int fd, int stream, pid_t pid)
{
    sources_[fd] = Source{stream, pid, {}};
}

std::vector<int> OutputForwarder::fds() const
{
    std::vector<int> out;
    for (const auto &[fd, _] : sources_)
        out.push_back(fd);
    return out;
}

void OutputForwarder::emit(const Source &source, std::string_view line)
{
    std::string out;
    switch (mode_) {
    case cli::LabelMode::None: break;
    case cli::LabelMode::Basic: out = std::to_string(source.pid) + ": "; break;
    case cli::LabelMode::Verbose:
        out = std::string("[") + (source.stream == 1 ? "stdout" : "stderr") + " node " +
              std::to_string(node_index_) + " " + hostname_ + " pid " + std::to_string(source.pid) +
              "] ";
        break;
    }
    out.append(line);
    write_all(source.stream == 1 ? STDOUT_FILENO : STDERR_FILENO, out);
}

bool OutputForwarder::drain(int fd)
{
    auto it = sources_.find(fd);
    if (it == sources_.end())
        return false;
    Source &source = it->second;
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0) {
            if (!source.pending.empty())
                emit(source, source.pending); // a last line without its newline
            close(fd);
            sources_.erase(it);
            return false;
        }
        source.pending.append(buf, static_cast<size_t>(n));
        size_t start = 0, newline;
        while ((newline = source.pending.find('\n', start)) != std::string::npos) {
            emit(source, std::string_view(source.pending).substr(start, newline - start + 1));
            start = newline + 1;
        }
        source.pending.erase(0, start);
    }
}

} // namespace dragon::node
