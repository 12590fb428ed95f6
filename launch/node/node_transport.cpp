#include "node_transport.hpp"

#include "core/error.hpp"
#include "core/framework_params.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

#include <cstdlib>
#include <utility>

namespace dragon::node {
namespace {

TransportConfig config_from_environment(uint32_t node_index, uint32_t num_nodes,
                                        const std::string &job_secret)
{
    TransportConfig c;
    c.node_index = node_index;
    c.num_nodes = num_nodes;
    c.job_secret = job_secret;
    if (const char *port = std::getenv("DRAGON_TRANSPORT_PORT"); port && *port)
        c.port = static_cast<uint16_t>(std::stoul(port));
    if (const char *prefix = std::getenv("DRAGON_NETWORK_PREFIX"))
        c.network_prefix = prefix;
    return c;
}

} // namespace

NodeTransport::NodeTransport(uint32_t node_index, uint32_t num_nodes, const std::string &job_secret)
    : peers_(num_nodes)
{
    if (job_secret.empty())
        throw Error(DRAGON_ERR_INVALID,
                    "dragon-node was started without a job secret (DRAGON_JOB_SECRET): start "
                    "jobs with the dragon command");
    TransportPlugin plugin = TransportPlugin::selected();
    endpoint_ = plugin.open(config_from_environment(node_index, num_nodes, job_secret), *this);
    log::debug("transport ", plugin.name(), " endpoint open");
}

NodeTransport::~NodeTransport()
{
    close();
}

const std::string &NodeTransport::plugin_name() const
{
    return endpoint_->plugin_name();
}

std::string NodeTransport::address()
{
    return endpoint_->address();
}

void NodeTransport::connect_all(const std::vector<std::string> &addresses, const Deadline &deadline)
{
    dragon::connect_all(*endpoint_, addresses, peers_, deadline);
    ended_.clear(); // what happened before everyone connected was reported by the throw
}

int NodeTransport::armed_fd()
{
    return endpoint_->arm() ? endpoint_->fd() : -1;
}

void NodeTransport::progress()
{
    endpoint_->progress();
}

std::vector<PeerEnd> NodeTransport::take_peer_ends()
{
    return std::exchange(ended_, {});
}

void NodeTransport::close()
{
    if (!endpoint_ || endpoint_->closed())
        return;
    try {
        endpoint_->close(std::chrono::seconds(1));
    } catch (const Error &e) {
        log::warning(e.what());
    }
}

void NodeTransport::on_message(const dragon_transport_message &message)
{
    if (receiver_) {
        receiver_(message);
        return;
    }
    log::debug("ignoring a ", message.header_len, "+", message.payload_len,
               " byte message from node ", message.peer, " (no gateway yet)");
}

void NodeTransport::on_peer(uint32_t peer, dragon_transport_peer_state state,
                            const std::string &reason)
{
    peers_.update(peer, state, reason);
    if (state == DRAGON_TRANSPORT_PEER_CONNECTED) {
        log::debug("transport connected to node ", peer);
        return;
    }
    ended_.push_back({peer, state == DRAGON_TRANSPORT_PEER_LOST, reason});
}

std::string take_job_secret_from_environment()
{
    const char *hex = std::getenv("DRAGON_JOB_SECRET");
    std::string secret;
    if (hex) {
        secret = text::from_hex(hex);
        unsetenv("DRAGON_JOB_SECRET");
    }
    return secret;
}

} // namespace dragon::node
