// The PMIx client side of wire-up, used by every dragon-node under any launcher
// (srun --mpi=pmix, PALS, or the server the local launcher hosts): publish this
// node's facts, fence, read the peers'. Every call has a deadline; failures are
// dragon::Error naming the step, the rank(s) and the PMIx status.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace dragon::wireup {

class PmixPeer {
public:
    // PMIx_Init. Throws (DRAGON_ERR_UNAVAILABLE) when this process was not started by a
    // PMIx server.
    static PmixPeer init(std::chrono::milliseconds deadline);

    PmixPeer(PmixPeer &&other) noexcept;
    PmixPeer &operator=(PmixPeer &&other) noexcept;
    PmixPeer(const PmixPeer &) = delete;
    PmixPeer &operator=(const PmixPeer &) = delete;
    ~PmixPeer(); // PMIx_Finalize

    uint32_t rank() const;
    uint32_t size() const;
    const std::string &nspace() const;

    // Publishes `bytes` under `key` for every rank (PMIX_GLOBAL, PMIX_BYTE_OBJECT).
    void put(const std::string &key, const std::string &bytes);
    // Hands what was put to the server (and marks this rank as having arrived, so a
    // failed fence can name the ranks that never did).
    void commit();
    // Every rank's committed data reaches every rank. On timeout or failure the error
    // names the ranks that did not arrive.
    // `while_waiting`, when given, runs about every millisecond until the fence completes
    // (a transport that must keep progressing for its peers to finish connecting).
    void fence(std::chrono::milliseconds deadline,
               const std::function<void()> &while_waiting = nullptr);
    // What `rank` put under `key`.
    std::string get(uint32_t rank, const std::string &key, std::chrono::milliseconds deadline);
    // Asks the server to end the whole job (PMIx_Abort), e.g. when this node cannot go on.
    void abort(int status, const std::string &message);

private:
    struct State;
    explicit PmixPeer(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

} // namespace dragon::wireup
