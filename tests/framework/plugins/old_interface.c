/* A transport built against interface major 1 (before the non-blocking redesign):
 * its table means something else, so it must be refused with the versions named. */
#include "test_transport_common.h"

static const dragon_transport_ops ops = {sizeof ops, TT_MANDATORY_ENTRIES, tt_cancel};

TT_DESCRIPTOR("old_interface", ops, 1, 0)
