/* A transport built against interface 2.0 as first released: its table ends with the
 * mandatory prefix (no optional entries). It must load; its optional entries are absent. */
#include "test_transport_common.h"

struct first_release_ops {
    size_t struct_size;
    dragon_status (*open)(const dragon_host *, const dragon_transport_config *,
                          dragon_transport_endpoint **, dragon_error *);
    void (*query)(dragon_transport_endpoint *, dragon_transport_caps *);
    dragon_status (*address)(dragon_transport_endpoint *, void *, size_t *, dragon_error *);
    dragon_status (*connect)(dragon_transport_endpoint *, uint32_t, const void *, size_t,
                             dragon_error *);
    dragon_status (*send)(dragon_transport_endpoint *, uint32_t, const void *, size_t,
                          const dragon_transport_iov *, size_t, dragon_transport_completion *,
                          dragon_error *);
    dragon_status (*receive_into)(dragon_transport_endpoint *, void *, void *, size_t,
                                  dragon_transport_completion *, dragon_error *);
    dragon_status (*progress)(dragon_transport_endpoint *, size_t *, dragon_error *);
    int (*fd)(dragon_transport_endpoint *);
    dragon_status (*arm)(dragon_transport_endpoint *, dragon_error *);
    dragon_status (*close)(dragon_transport_endpoint *, int64_t, dragon_error *);
};

static const struct first_release_ops ops = {sizeof ops, TT_MANDATORY_ENTRIES};

TT_DESCRIPTOR("older_table", ops, DRAGON_TRANSPORT_INTERFACE_MAJOR, 0)
