#include "socket_owner.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace dragon::wireup {

namespace {

// An address as /proc/net/tcp writes it: the 32-bit address as a host-order number
// in 8 hex digits, then the port in 4.
std::string proc_net_address(const sockaddr_in &a)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08X:%04X", static_cast<unsigned>(a.sin_addr.s_addr),
                  static_cast<unsigned>(ntohs(a.sin_port)));
    return buf;
}

bool ipv4_name(int fd, bool peer, sockaddr_in &out)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr *>(&ss), &len)
                  : getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len);
    if (rc != 0 || ss.ss_family != AF_INET)
        return false;
    std::memcpy(&out, &ss, sizeof out);
    return true;
}

} // namespace

std::optional<PeerSocket> peer_socket(int fd)
{
    sockaddr_in mine{}, theirs{};
    if (!ipv4_name(fd, false, mine) || !ipv4_name(fd, true, theirs))
        return std::nullopt;
    // The peer's socket is the one whose local end is our remote end and whose
    // remote end is us.
    std::string local = proc_net_address(theirs), remote = proc_net_address(mine);
    std::ifstream table("/proc/self/net/tcp");
    std::string line;
    std::getline(table, line); // the column titles
    while (std::getline(table, line)) {
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        std::istringstream in(line);
        std::string sl, l, r, st, queues, timer, retransmits;
        unsigned long uid = 0, timeout = 0;
        uint64_t inode = 0;
        if (!(in >> sl >> l >> r >> st >> queues >> timer >> retransmits >> uid >> timeout >>
              inode))
            continue;
        // Inode 0: a socket no process holds any more (closed, lingering in the table).
        if (l == local && r == remote && inode != 0)
            return PeerSocket{static_cast<uid_t>(uid), inode};
    }
    return std::nullopt;
}

bool process_holds_socket(pid_t pid, uint64_t inode)
{
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR *d = opendir(dir.c_str());
    if (!d)
        return false;
    std::string wanted = "socket:[" + std::to_string(inode) + "]";
    bool found = false;
    char target[64];
    while (dirent *e = readdir(d)) {
        if (e->d_name[0] == '.')
            continue;
        ssize_t n = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
        if (n > 0 && wanted.compare(0, std::string::npos, target, static_cast<size_t>(n)) == 0) {
            found = true;
            break;
        }
    }
    closedir(d);
    return found;
}

std::vector<pid_t> processes_holding_socket(uint64_t inode, uid_t uid)
{
    std::vector<pid_t> found;
    DIR *d = opendir("/proc");
    if (!d)
        return found;
    while (dirent *e = readdir(d)) {
        char *end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || !end || *end)
            continue;
        struct stat st {};
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 || st.st_uid != uid)
            continue;
        if (process_holds_socket(static_cast<pid_t>(pid), inode))
            found.push_back(static_cast<pid_t>(pid));
    }
    closedir(d);
    return found;
}

pid_t parent_of(pid_t pid)
{
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so from the last ')'.
    size_t close = text.rfind(')');
    if (close == std::string::npos)
        return 0;
    std::istringstream rest(text.substr(close + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    return static_cast<pid_t>(ppid);
}

} // namespace dragon::wireup
