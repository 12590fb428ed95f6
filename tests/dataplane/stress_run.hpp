// N producers x M consumers across fork on one channel, checked end to end: every
// message intact (checksum), none lost, none duplicated, each sender's order kept.
#pragma once

#include "dataplane/channel.hpp"
#include "dataplane_fixture.hpp"
#include "stress_message.hpp"

#include "core/error.hpp"

#include <atomic>
#include <map>

namespace dragon::test {

struct StressResult {
    bool children_ok = true;
    uint64_t lost = 0, duplicated = 0, corrupt = 0, out_of_order = 0;
};

// Senders with ids >= foreign_sender_base (left over from killed processes) are ignored.
inline constexpr uint32_t foreign_sender_base = 1000;

inline StressResult run_stress(Pool &pool, Channel &ch, int producers, int consumers,
                               uint32_t per_producer)
{
    using namespace std::chrono_literals;
    struct Shared {
        std::atomic<uint64_t> received, corrupt, out_of_order;
    };
    const uint64_t total = uint64_t(producers) * per_producer;
    auto *shared = new (pool.allocate(sizeof(Shared) + total, 1s)) Shared{};
    auto *seen = reinterpret_cast<uint8_t *>(shared + 1);
    std::memset(seen, 0, total);
    std::string desc = ch.descriptor();

    std::vector<pid_t> kids;
    for (int p = 0; p < producers; ++p)
        kids.push_back(fork_child([&, p] {
            Channel c = Channel::attach(desc);
            for (uint32_t seq = 0; seq < per_producer; ++seq)
                c.send(make_stress_message(uint32_t(p), seq), 30s);
            return 0;
        }));
    for (int k = 0; k < consumers; ++k)
        kids.push_back(fork_child([&] {
            Channel c = Channel::attach(desc);
            std::map<uint32_t, int64_t> last;
            auto end = std::chrono::steady_clock::now() + 90s;
            while (shared->received.load() < total) {
                if (std::chrono::steady_clock::now() > end)
                    return 3;
                std::optional<Message> m;
                try {
                    m = c.recv(50ms);
                } catch (const Error &e) {
                    if (e.status() == DRAGON_ERR_TIMEOUT)
                        continue;
                    throw;
                }
                StressHeader h;
                if (!check_stress_message(m->data(), m->size(), h)) {
                    shared->corrupt.fetch_add(1);
                    continue;
                }
                if (h.sender >= foreign_sender_base)
                    continue;
                if (h.sender >= uint32_t(producers) || h.seq >= per_producer) {
                    shared->corrupt.fetch_add(1);
                    continue;
                }
                auto it = last.find(h.sender);
                if (it != last.end() && int64_t(h.seq) <= it->second)
                    shared->out_of_order.fetch_add(1);
                last[h.sender] = h.seq;
                __atomic_fetch_add(&seen[uint64_t(h.sender) * per_producer + h.seq], 1,
                                   __ATOMIC_RELAXED);
                shared->received.fetch_add(1);
            }
            return 0;
        }));
    StressResult r;
    for (int code : reap_all(kids, 150s))
        if (code != 0) {
            r.children_ok = false;
            ADD_FAILURE() << "a stress participant exited with " << code;
        }
    for (uint64_t i = 0; i < total; ++i) {
        if (seen[i] == 0)
            ++r.lost;
        else if (seen[i] > 1)
            r.duplicated += seen[i] - 1;
    }
    r.corrupt = shared->corrupt.load();
    r.out_of_order = shared->out_of_order.load();
    pool.free(shared);
    return r;
}

} // namespace dragon::test
