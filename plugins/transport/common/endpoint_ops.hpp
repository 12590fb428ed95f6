// The C function table of a transport whose endpoint is a C++ class: one trampoline per
// entry of dragon_transport_ops, written once for every in-tree transport (UCX declares
// its transports by macro the same way). `Endpoint` provides, with the header's meaning:
//   static dragon_status open(const dragon_host *, const dragon_transport_config *,
//                             Endpoint **, dragon_error *);
//   void query(dragon_transport_caps *);
//   dragon_status address(void *, size_t *, dragon_error *);
//   dragon_status connect(uint32_t, const void *, size_t, dragon_error *);
//   dragon_status send(uint32_t, const void *, size_t, const dragon_transport_iov *, size_t,
//                      dragon_transport_completion *, dragon_error *);
//   dragon_status receive_into(void *, void *, size_t, dragon_transport_completion *,
//                              dragon_error *);
//   dragon_status progress(size_t *, dragon_error *);
//   int fd();
//   dragon_status arm(dragon_error *);
//   dragon_status close(int64_t, dragon_error *);  // then the table deletes the endpoint
//   dragon_status cancel(dragon_transport_completion *, dragon_error *);
#pragma once

#include <dragon/transport.h>

namespace dragon::transport {

template <typename Endpoint> class EndpointOps {
private:
    static Endpoint *self(dragon_transport_endpoint *ep)
    {
        return reinterpret_cast<Endpoint *>(ep);
    }

    static dragon_status open(const dragon_host *host, const dragon_transport_config *config,
                              dragon_transport_endpoint **out, dragon_error *err)
    {
        Endpoint *ep = nullptr;
        dragon_status s = Endpoint::open(host, config, &ep, err);
        if (s == DRAGON_OK)
            *out = reinterpret_cast<dragon_transport_endpoint *>(ep);
        return s;
    }
    static void query(dragon_transport_endpoint *ep, dragon_transport_caps *caps)
    {
        self(ep)->query(caps);
    }
    static dragon_status address(dragon_transport_endpoint *ep, void *buf, size_t *len,
                                 dragon_error *err)
    {
        return self(ep)->address(buf, len, err);
    }
    static dragon_status connect(dragon_transport_endpoint *ep, uint32_t peer, const void *addr,
                                 size_t len, dragon_error *err)
    {
        return self(ep)->connect(peer, addr, len, err);
    }
    static dragon_status send(dragon_transport_endpoint *ep, uint32_t peer, const void *header,
                              size_t header_len, const dragon_transport_iov *payload,
                              size_t payload_count, dragon_transport_completion *completion,
                              dragon_error *err)
    {
        return self(ep)->send(peer, header, header_len, payload, payload_count, completion, err);
    }
    static dragon_status receive_into(dragon_transport_endpoint *ep, void *token, void *buffer,
                                      size_t len, dragon_transport_completion *completion,
                                      dragon_error *err)
    {
        return self(ep)->receive_into(token, buffer, len, completion, err);
    }
    static dragon_status progress(dragon_transport_endpoint *ep, size_t *events, dragon_error *err)
    {
        return self(ep)->progress(events, err);
    }
    static int fd(dragon_transport_endpoint *ep) { return self(ep)->fd(); }
    static dragon_status arm(dragon_transport_endpoint *ep, dragon_error *err)
    {
        return self(ep)->arm(err);
    }
    static dragon_status close(dragon_transport_endpoint *ep, int64_t timeout_ns, dragon_error *err)
    {
        Endpoint *e = self(ep);
        dragon_status s = e->close(timeout_ns, err);
        delete e; // the contract: close frees the endpoint whatever it returns
        return s;
    }
    static dragon_status cancel(dragon_transport_endpoint *ep,
                                dragon_transport_completion *completion, dragon_error *err)
    {
        return self(ep)->cancel(completion, err);
    }

public:
    // Declared after the trampolines it names.
    static constexpr dragon_transport_ops table{sizeof(dragon_transport_ops),
                                                open,
                                                query,
                                                address,
                                                connect,
                                                send,
                                                receive_into,
                                                progress,
                                                fd,
                                                arm,
                                                close,
                                                cancel};
};

} // namespace dragon::transport
