/* A transport built against a newer minor interface: its table is longer than this
 * framework's (an entry this framework does not know follows cancel). It must load,
 * its extra entry ignored, its cancel found. */
#include "test_transport_common.h"

static int tt_from_the_future(void)
{
    return 42;
}

struct newer_ops {
    dragon_transport_ops known;
    int (*from_the_future)(void);
};

static const struct newer_ops ops = {
    {sizeof ops, TT_MANDATORY_ENTRIES, tt_cancel},
    tt_from_the_future,
};

TT_DESCRIPTOR("newer_table", ops, DRAGON_TRANSPORT_INTERFACE_MAJOR,
              DRAGON_TRANSPORT_INTERFACE_MINOR + 5)
