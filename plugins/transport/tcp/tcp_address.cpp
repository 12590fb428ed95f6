#include "tcp_address.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstdlib>
#include <sstream>

namespace dragon::tcp {
namespace {

bool parse_ipv4(const std::string &text, uint32_t &out)
{
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1)
        return false;
    out = ntohl(a.s_addr);
    return true;
}

} // namespace

std::string parse_cidr(const std::string &text, Cidr &out)
{
    auto slash = text.find('/');
    if (slash == std::string::npos)
        return "'" + text + "' is not an IPv4 CIDR: expected ADDRESS/BITS, e.g. 10.0.0.0/8";
    std::string addr = text.substr(0, slash), bits = text.substr(slash + 1);
    uint32_t a = 0;
    if (!parse_ipv4(addr, a))
        return "'" + addr + "' in '" + text + "' is not an IPv4 address (four numbers 0-255)";
    if (bits.empty() || bits.size() > 2 ||
        bits.find_first_not_of("0123456789") != std::string::npos || std::atoi(bits.c_str()) > 32)
        return "prefix length '" + bits + "' in '" + text + "' is not a number from 0 to 32";
    out.bits = std::atoi(bits.c_str());
    out.mask = out.bits == 0 ? 0 : ~uint32_t(0) << (32 - out.bits);
    out.network = a & out.mask;
    return "";
}

std::string ipv4_text(uint32_t addr)
{
    in_addr a{};
    a.s_addr = htonl(addr);
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

std::vector<Interface> ipv4_interfaces()
{
    std::vector<Interface> out;
    ifaddrs *list = nullptr;
    if (getifaddrs(&list) != 0)
        return out;
    for (ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP))
            continue;
        auto *sin = reinterpret_cast<const sockaddr_in *>(i->ifa_addr);
        out.push_back({i->ifa_name, ntohl(sin->sin_addr.s_addr)});
    }
    freeifaddrs(list);
    return out;
}

std::string describe_interfaces(const std::vector<Interface> &interfaces)
{
    if (interfaces.empty())
        return "no interface with an IPv4 address is up";
    std::string s;
    for (const auto &i : interfaces)
        s += (s.empty() ? "" : ", ") + i.name + " " + ipv4_text(i.addr);
    return s;
}

std::string encode_address(uint16_t port, const std::vector<uint32_t> &addrs)
{
    std::string s = "tcp1 " + std::to_string(port) + " ";
    for (size_t i = 0; i < addrs.size(); ++i)
        s += (i ? "," : "") + ipv4_text(addrs[i]);
    return s;
}

std::string decode_address(const void *data, size_t len, uint16_t &port,
                           std::vector<uint32_t> &addrs)
{
    std::string text(static_cast<const char *>(data), len);
    std::istringstream in(text);
    std::string tag, port_text, list, extra;
    if (!(in >> tag >> port_text >> list) || (in >> extra) || tag != "tcp1")
        return "'" + text + "' is not a tcp transport address (expected 'tcp1 PORT IP[,IP...]')";
    if (port_text.find_first_not_of("0123456789") != std::string::npos || port_text.size() > 5 ||
        std::atoi(port_text.c_str()) < 1 || std::atoi(port_text.c_str()) > 65535)
        return "bad port '" + port_text + "' in tcp transport address '" + text + "'";
    port = static_cast<uint16_t>(std::atoi(port_text.c_str()));
    addrs.clear();
    std::istringstream items(list);
    std::string item;
    while (std::getline(items, item, ',')) {
        uint32_t a = 0;
        if (!parse_ipv4(item, a))
            return "bad IPv4 address '" + item + "' in tcp transport address '" + text + "'";
        addrs.push_back(a);
    }
    if (addrs.empty())
        return "tcp transport address '" + text + "' lists no IP address";
    return "";
}

} // namespace dragon::tcp
