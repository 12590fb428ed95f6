#include "hsta_ucx_setup.hpp"

#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ifaddrs.h>
#include <mutex>
#include <net/if.h>

namespace hsta {

namespace {

// UCX's configuration parser and its global state are not documented as thread-safe;
// endpoints opened at the same time in one process take turns here.
std::mutex &init_mutex()
{
    static std::mutex m;
    return m;
}

bool parse_cidr(const std::string &text, uint32_t &net, uint32_t &mask)
{
    auto slash = text.find('/');
    std::string addr = text.substr(0, slash);
    int bits = 32;
    if (slash != std::string::npos) {
        const std::string b = text.substr(slash + 1);
        if (b.empty() || b.size() > 2 || b.find_first_not_of("0123456789") != std::string::npos)
            return false;
        bits = std::atoi(b.c_str());
        if (bits > 32)
            return false;
    }
    in_addr a{};
    if (inet_pton(AF_INET, addr.c_str(), &a) != 1)
        return false;
    mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    net = ntohl(a.s_addr) & mask;
    return true;
}

} // namespace

bool device_for_prefix(const std::string &prefix, std::string &device, std::string &error)
{
    uint32_t net = 0, mask = 0;
    if (!parse_cidr(prefix, net, mask)) {
        error = "network prefix '" + prefix +
                "' is not an IPv4 CIDR (expected e.g. 10.200.0.0/24): fix --network-prefix";
        return false;
    }
    ifaddrs *list = nullptr;
    if (getifaddrs(&list) != 0) {
        error = "cannot list the network interfaces (getifaddrs failed)";
        return false;
    }
    std::string seen;
    for (ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP))
            continue;
        auto *sin = reinterpret_cast<sockaddr_in *>(i->ifa_addr);
        char text[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
        seen += (seen.empty() ? "" : ", ") + std::string(i->ifa_name) + " " + text;
        if ((ntohl(sin->sin_addr.s_addr) & mask) == net && device.empty())
            device = i->ifa_name;
    }
    freeifaddrs(list);
    if (device.empty()) {
        error = "network prefix " + prefix + " matches no interface here (interfaces: " +
                (seen.empty() ? std::string("none up") : seen) +
                "): choose a prefix of one of them";
        return false;
    }
    return true;
}

bool choose_settings(const dragon_host *host, const char *network_prefix, size_t peers,
                     Settings &out, std::string &error)
{
    out = Settings{};
    out.estimated_peers = peers;
    // The user's UCX_NET_DEVICES wins; the job's prefix still has to make sense.
    if (network_prefix && *network_prefix) {
        std::string device;
        if (!device_for_prefix(network_prefix, device, error))
            return false;
        if (!std::getenv("UCX_NET_DEVICES")) {
            out.net_devices = device;
            if (host && host->log)
                host->log(host->ctx, DRAGON_LOG_DEBUG,
                          ("hsta: network prefix " + std::string(network_prefix) +
                           " selects UCX_NET_DEVICES=" + device)
                              .c_str());
        }
    }
    if (!std::getenv("UCX_KEEPALIVE_INTERVAL")) {
        const char *ka =
            host && host->param ? host->param(host->ctx, "keepalive_interval") : nullptr;
        out.keepalive_interval = ka && *ka ? ka : "0.5s";
    }
    return true;
}

ucs_status_t make_context(const Settings &settings, ucp_context_h *context, std::string &error)
{
    std::lock_guard lock(init_mutex());
    ucp_config_t *config = nullptr;
    ucs_status_t s = ucp_config_read(nullptr, nullptr, &config);
    if (s != UCS_OK) {
        error = std::string("UCX cannot read its configuration (UCX_* variables): ") +
                ucs_status_string(s);
        return s;
    }
    auto modify = [&](const char *name, const std::string &value) {
        if (value.empty())
            return true;
        ucs_status_t m = ucp_config_modify(config, name, value.c_str());
        if (m != UCS_OK) {
            error = std::string("UCX refused ") + name + "=" + value + ": " + ucs_status_string(m);
            s = m;
            return false;
        }
        return true;
    };
    if (!modify("NET_DEVICES", settings.net_devices) ||
        !modify("KEEPALIVE_INTERVAL", settings.keepalive_interval)) {
        ucp_config_release(config);
        return s;
    }
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED |
                        UCP_PARAM_FIELD_ESTIMATED_NUM_EPS;
    params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
    params.mt_workers_shared = 0;
    params.estimated_num_eps = settings.estimated_peers;
    s = ucp_init(&params, config, context);
    ucp_config_release(config);
    if (s != UCS_OK) {
        error = std::string("UCX (libucp) cannot be initialized with active messages and "
                            "wake-up: ") +
                ucs_status_string(s) +
                " (no usable transport or device? check UCX_TLS and UCX_NET_DEVICES, and "
                "`ucx_info -d`)";
        if (!settings.net_devices.empty())
            error += "; the network prefix chose UCX_NET_DEVICES=" + settings.net_devices +
                     ", and UCX lists devices from /sys/class/net: a process that entered a "
                     "network namespace must see that namespace's /sys (`ip netns exec` "
                     "remounts it, plain setns/nsenter does not)";
        return s;
    }
    std::string resources;
    if (!has_network_resource(*context, resources)) {
        error = "UCX offers no network transport here (" +
                (resources.empty() ? std::string("no resources at all") : resources) +
                "): hsta needs one (tcp, rc, ud, dc, ...), and UCX 1.13's shared-memory "
                "transports carry no active messages with peer-failure detection; check "
                "UCX_TLS and UCX_NET_DEVICES against `ucx_info -d`";
        ucp_cleanup(*context);
        *context = nullptr;
        return UCS_ERR_NO_DEVICE;
    }
    return s;
}

bool has_network_resource(ucp_context_h context, std::string &resources)
{
    // UCX lists its resources only as text ("#      resource 1  :  md 1  dev 1  flags --
    // tcp/lo"); the transport names of one host's memory are known and few.
    static const char *const local[] = {"self",     "sysv",      "posix",    "cma",
                                        "knem",     "xpmem",     "mm",       "cuda_copy",
                                        "cuda_ipc", "rocm_copy", "rocm_ipc", "gdr_copy"};
    char *text = nullptr;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return true; // cannot tell: let connect() say what fails
    ucp_context_print_info(context, f);
    std::fclose(f);
    bool network = false;
    char *save = nullptr;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(nullptr, "\n", &save)) {
        if (!std::strstr(line, "resource"))
            continue;
        const char *name = std::strrchr(line, ' ');
        if (!name || !std::strchr(name, '/'))
            continue;
        std::string res(name + 1);
        resources += (resources.empty() ? "" : ", ") + res;
        std::string tl = res.substr(0, res.find('/'));
        bool is_local = false;
        for (const char *l : local)
            is_local |= tl == l;
        network |= !is_local;
    }
    std::free(text);
    return network;
}

} // namespace hsta
