// Reading UCX's configuration for an hsta endpoint or probe: which network device the
// job's network prefix selects, and the UCX settings hsta changes (only those the user
// did not set through UCX_* variables).
#pragma once

#include <dragon/plugin.h>

#include <string>

#include <ucp/api/ucp.h>

namespace hsta {

struct Settings {
    // UCX_NET_DEVICES for this context; empty: UCX's own (the user's or its default).
    std::string net_devices;
    // UCX_KEEPALIVE_INTERVAL for this context; empty: leave UCX's.
    std::string keepalive_interval;
    size_t estimated_peers = 1;
};

// The interface holding an IPv4 address inside `prefix` (a CIDR such as 10.200.0.0/24).
// False with `error` naming the problem (bad CIDR, or no interface: the interfaces there
// are and their addresses are listed).
bool device_for_prefix(const std::string &prefix, std::string &device, std::string &error);

// What hsta sets for UCX given the job's network prefix and its own parameters, leaving
// alone what the user's UCX_* variables already say. False with `error` when the prefix
// selects nothing.
bool choose_settings(const dragon_host *host, const char *network_prefix, size_t peers,
                     Settings &out, std::string &error);

// A UCP context with active messages and wake-up, configured by `settings` on top of the
// UCX_* environment. UCX_OK or the failure, with `error` saying what UCX refused.
ucs_status_t make_context(const Settings &settings, ucp_context_h *context, std::string &error);

// The context's transport resources ("tcp/lo", "posix/memory", ...), and whether one of
// them reaches other hosts. hsta needs such a one: with UCP_ERR_HANDLING_MODE_PEER,
// UCX 1.13's shared-memory transports (sysv, posix) carry no active messages at all.
bool has_network_resource(ucp_context_h context, std::string &resources);

} // namespace hsta
