// The tcp transport's wire format and its receive-side parser, with no sockets in
// sight: the endpoint, the unit tests and the fuzzer all drive the same code.
//
// Every frame starts with a fixed 20-byte prefix (little-endian):
//   u32 magic 0x54475244 ("DRGT")   u8 version (1)   u8 type   u16 header_len
//   u64 payload_len                 u32 reserved (0)
// followed by header_len bytes of header and payload_len bytes of payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace dragon::tcp {

constexpr uint32_t kMagic = 0x54475244; // "DRGT" on the wire
constexpr uint8_t kVersion = 1;
constexpr size_t kPrefixSize = 20;
// Largest header a data frame carries (the contract asks for at least 256).
constexpr size_t kMaxHeader = 1024;
// Largest payload of a data frame: far beyond any real message, small enough that a
// corrupted length is caught.
constexpr uint64_t kMaxPayload = uint64_t(1) << 40;
// Largest payload a handshake frame carries: an unauthenticated peer gets no more.
constexpr uint64_t kMaxHandshakePayload = 128;

enum class FrameType : uint8_t {
    Hello = 1,     // connector -> acceptor: indices and the connector's nonce
    Challenge = 2, // acceptor -> connector: its nonce and its proof
    Proof = 3,     // connector -> acceptor: the connector's proof
    Welcome = 4,   // acceptor -> connector: proof accepted, messages may flow
    Refused = 5,   // either way: proof refused (payload: reason text), then close
    Data = 6,      // a message: framework header + payload
    Bye = 7,       // orderly close: nothing more follows
};

const char *frame_type_name(uint8_t type);

struct FrameInfo {
    uint8_t type = 0;
    uint16_t header_len = 0;
    uint64_t payload_len = 0;
};

// Writes the prefix into out[kPrefixSize].
void encode_prefix(uint8_t *out, FrameType type, uint16_t header_len, uint64_t payload_len);

// A whole frame (prefix, header, payload) as bytes: handshake frames and tests.
std::vector<uint8_t> encode_frame(FrameType type, std::span<const uint8_t> header,
                                  std::span<const uint8_t> payload);

// Checks a prefix; returns "" or the reason it is bad. `authenticated` selects the
// frame types and sizes allowed (handshake frames before, data frames after).
std::string decode_prefix(const uint8_t *in, bool authenticated, FrameInfo &out);

// What the reader found in the bytes committed so far.
enum class RxKind {
    None,       // more bytes needed
    Frame,      // a whole frame: header and payload inline (valid until the next read_window)
    LargeStart, // a data frame whose payload exceeds the eager threshold: header inline;
                // call place() before reading on
    LargeDone,  // the large payload has been placed (or discarded)
    Error,      // bad input: `error` says what; the connection must be closed
};

struct RxEvent {
    RxKind kind = RxKind::None;
    FrameInfo info;
    const uint8_t *header = nullptr;
    const uint8_t *payload = nullptr;
    std::string error;
};

// Bytes that are never read before they are written: no zeroing on allocation.
class RawBuffer {
public:
    explicit RawBuffer(size_t size) : data_(new uint8_t[size]), size_(size) {}
    uint8_t *data() { return data_.get(); }
    size_t size() const { return size_; }

private:
    std::unique_ptr<uint8_t[]> data_;
    size_t size_;
};

// Incremental frame parser over a staging buffer. Reads go where read_window() says:
// normally the staging buffer, but while a large payload is being placed and nothing
// is buffered, straight into the destination (the single copy is the kernel's).
class FrameReader {
public:
    explicit FrameReader(size_t eager_threshold);

    // After authentication: data frames become legal, handshake frames illegal.
    void set_authenticated() { authenticated_ = true; }
    bool authenticated() const { return authenticated_; }

    // Where the next bytes should be written (never empty unless failed() or waiting
    // for place()).
    std::span<uint8_t> read_window();
    // `n` bytes were written at the start of the last read_window().
    void commit(size_t n);
    // The next event; call until it returns None (or Error).
    RxEvent next();
    // After LargeStart: the payload goes to `target` (payload_len bytes), or is
    // discarded when target is null.
    void place(uint8_t *target);

    bool awaiting_place() const { return state_ == State::AwaitPlace; }
    bool in_large_payload() const { return state_ == State::Payload; }
    // The payload length of the large frame announced by the last LargeStart.
    uint64_t large_payload_len() const { return large_.payload_len; }
    bool failed() const { return state_ == State::Failed; }
    // Bytes committed but not yet consumed by next().
    size_t buffered() const { return end_ - begin_; }
    // True between frames (nothing half-read): an EOF here is clean.
    bool at_frame_boundary() const { return state_ == State::Prefix && buffered() == 0; }
    size_t eager_threshold() const { return eager_; }

private:
    enum class State { Prefix, AwaitPlace, Payload, Failed };
    RxEvent fail(std::string reason);

    size_t eager_;
    bool authenticated_ = false;
    State state_ = State::Prefix;
    RawBuffer buf_;
    size_t begin_ = 0, end_ = 0;
    // The large payload being placed.
    FrameInfo large_;
    uint8_t *target_ = nullptr;
    uint64_t placed_ = 0;
    bool window_direct_ = false;
    RawBuffer scratch_; // where discarded payload bytes go
};

} // namespace dragon::tcp
