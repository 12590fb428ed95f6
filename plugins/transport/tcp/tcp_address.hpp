// Addresses of the tcp transport: the IPv4 CIDR that picks an interface, the host's
// interfaces, and the text a node publishes so that its peers can reach it:
//   "tcp1 <port> <ipv4>[,<ipv4>...]"   e.g. "tcp1 40123 10.200.0.2,127.0.0.1"
// A connector tries the addresses in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dragon::tcp {

// IPv4 addresses are kept in host byte order.
struct Cidr {
    uint32_t network = 0;
    uint32_t mask = 0;
    int bits = 0;
    bool contains(uint32_t addr) const { return (addr & mask) == network; }
};

// "" on success, else what is wrong with `text` (e.g. "999.1.1.1/99").
std::string parse_cidr(const std::string &text, Cidr &out);

std::string ipv4_text(uint32_t addr);

struct Interface {
    std::string name;
    uint32_t addr = 0;
};

// Every IPv4 address of every interface that is up.
std::vector<Interface> ipv4_interfaces();
// "lo 127.0.0.1, eth0 10.0.0.5" for error messages.
std::string describe_interfaces(const std::vector<Interface> &interfaces);

std::string encode_address(uint16_t port, const std::vector<uint32_t> &addrs);
// "" on success, else why the bytes are not an address of this transport.
std::string decode_address(const void *data, size_t len, uint16_t &port,
                           std::vector<uint32_t> &addrs);

} // namespace dragon::tcp
