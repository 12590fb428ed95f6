// Channel, Message and ReadinessFd. Every call that can block releases the GIL
// and, in the main thread, runs Python's signal handlers while it waits
// (signal_check.hpp): Ctrl-C interrupts a get() or recv() without a timeout.
//
// send_parts() is the large-payload path: a pickle stream plus its protocol-5
// out-of-band buffers are copied once, straight into one pool block, which is
// then handed to the receiver without another copy (see parts_layout.hpp).
#include "bindings.hpp"
#include "parts_layout.hpp"
#include "signal_check.hpp"
#include "timeout.hpp"

#include "core/error.hpp"
#include "dataplane/channel.hpp"
#include "dataplane/channel_set.hpp"
#include "dataplane/holders.hpp"
#include "dataplane/readiness_fd.hpp"

#include <cstring>
#include <memory>
#include <vector>

namespace py = pybind11;

namespace dragon::py_module {
namespace {

// A contiguous buffer held for the duration of a call (PyBUF_SIMPLE: bytes-like).
class HeldBuffer {
public:
    HeldBuffer(PyObject *obj, bool writable)
    {
        if (PyObject_GetBuffer(obj, &view_, writable ? PyBUF_WRITABLE : PyBUF_SIMPLE) != 0)
            throw py::error_already_set();
    }
    HeldBuffer(const HeldBuffer &) = delete;
    HeldBuffer &operator=(const HeldBuffer &) = delete;
    ~HeldBuffer() { PyBuffer_Release(&view_); }
    void *data() const { return view_.buf; }
    size_t size() const { return size_t(view_.len); }

private:
    Py_buffer view_{};
};

// The parts of one message (a pickle stream and its out-of-band buffers), held for
// the duration of a call.
struct HeldParts {
    explicit HeldParts(const py::sequence &parts)
    {
        for (py::handle part : parts) {
            buffers.push_back(std::make_unique<HeldBuffer>(part.ptr(), false));
            sizes.push_back(buffers.back()->size());
        }
    }
    // The parts as send_parts frames them (parts_layout.hpp), at `base`.
    void copy_framed(std::byte *base, const PartsLayout &layout) const
    {
        layout.write_header(base);
        for (size_t i = 0; i < buffers.size(); ++i)
            std::memcpy(base + layout.offset(i), buffers[i]->data(), sizes[i]);
    }
    std::vector<std::unique_ptr<HeldBuffer>> buffers;
    std::vector<size_t> sizes;
};

// Keeps the Python Channel alive as long as its readiness thread watches it.
struct ReadinessWatch {
    py::object channel;
    std::unique_ptr<ReadinessFd> readiness;
    int fileno() const
    {
        if (!readiness)
            throw py::value_error("readiness fd is closed");
        return readiness->fd();
    }
    bool refresh()
    {
        if (!readiness)
            return false;
        return readiness->refresh();
    }
    void close()
    {
        py::gil_scoped_release unlocked; // joining the helper thread takes up to a slice
        readiness.reset();
    }
};

std::byte empty_byte{};

// The bytes of a memory channel as a writable buffer (ctypes' from_buffer, numpy),
// keeping the Python Channel, and so the channel's reference, alive while any view
// of them exists.
struct MemoryBuffer {
    py::object channel;
    std::byte *data;
    size_t size;
};

// The GIL is released only when a call has to wait (or copy a large payload): a
// send or receive that can proceed at once takes well under a microsecond, and
// handing the GIL to another thread and back around it costs more, and convoys
// the threads of a busy process (multiprocessing.pool's handler threads).
void send_releasing_gil_to_wait(Channel &ch, const void *data, size_t size, Timeout timeout)
{
    if (size <= ch.inline_max() && ch.try_send(data, size))
        return;
    SignalsDuringWait signals;
    py::gil_scoped_release unlocked;
    ch.send(data, size, timeout);
}

Message recv_releasing_gil_to_wait(Channel &ch, Timeout timeout)
{
    if (auto msg = ch.try_recv())
        return std::move(*msg);
    SignalsDuringWait signals;
    py::gil_scoped_release unlocked;
    return ch.recv(timeout);
}

void send_parts(Channel &ch, const py::sequence &parts, const py::object &timeout)
{
    Deadline deadline(to_timeout(timeout));
    HeldParts held(parts);
    PartsLayout layout(held.sizes);
    SignalsDuringWait signals;
    py::gil_scoped_release unlocked;
    auto remaining = [&] {
        return deadline.never() ? wait_forever : Timeout(deadline.remaining_ns());
    };
    // An unbounded channel never waits for room (Channel::send): a full pool raises.
    // Recorded as this process's until the channel has it: a putter killed during
    // the copy of a large object leaks nothing (holders.hpp).
    BlockInHand in_hand(ch.pool(), layout.total());
    void *block =
        ch.pool().allocate(layout.total(), ch.unbounded() ? no_wait : remaining(), in_hand.word());
    try {
        held.copy_framed(static_cast<std::byte *>(block), layout);
        ch.send_block(block, layout.total(), remaining(), &in_hand);
    } catch (...) {
        in_hand.let_go();
        ch.pool().free(block);
        throw;
    }
}

// The parts (framed as send_parts frames them, or one part as is) written into one
// new block of `pool`: (handle, length). For a message to another node, which this
// node's dragon-node sends from the block and then frees.
py::tuple write_block(const std::shared_ptr<Pool> &pool, const py::sequence &parts, bool framed,
                      const py::object &timeout)
{
    Deadline deadline(to_timeout(timeout));
    HeldParts held(parts);
    if (!framed && held.sizes.size() != 1)
        throw py::value_error("an unframed block holds exactly one part");
    PartsLayout layout(held.sizes);
    size_t total = framed ? layout.total() : held.sizes[0];
    SignalsDuringWait signals;
    std::optional<BlockRecord> record;
    void *block;
    {
        py::gil_scoped_release unlocked;
        // Recorded as this process's until dragon-node takes it over: a sender killed
        // before that leaks nothing (holders.hpp).
        BlockInHand in_hand(*pool, total);
        block = pool->allocate(total ? total : 1,
                               deadline.never() ? wait_forever : Timeout(deadline.remaining_ns()),
                               in_hand.word());
        auto *base = static_cast<std::byte *>(block);
        if (framed)
            held.copy_framed(base, layout);
        else
            std::memcpy(base, held.buffers[0]->data(), total);
        record = in_hand.hand_over();
    }
    return py::make_tuple(pool->handle_of(block), total,
                          py::bytes(record ? encode_block_record(*record) : std::string()));
}

// Frees a block of write_block() that its request may not have delivered, if its
// record still names it (no dragon-node took it). Without a record nothing says
// whether one did: the block is left alone.
void reclaim_block(const std::shared_ptr<Pool> &pool, uint64_t handle, const py::bytes &record)
{
    auto rec = decode_block_record(std::string(record));
    if (rec && take_block_in_hand(*pool, *rec, handle))
        pool->free(pool->pointer_of(handle));
}

} // namespace

void bind_channel(py::module_ &m)
{
    m.attr("PARTS_TAG") = py::int_(PartsLayout::tag);
    m.def("write_block", &write_block, py::arg("pool"), py::arg("parts"), py::arg("framed"),
          py::arg("timeout") = py::none(),
          "Writes the parts into one new pool block: (handle, length, record), the record "
          "(b'' if none) naming where the block stays recorded as this process's until "
          "dragon-node takes it over");
    m.def("reclaim_block", &reclaim_block, py::arg("pool"), py::arg("handle"), py::arg("record"),
          "Frees a block of write_block() that no dragon-node took");
    m.def(
        "new_message",
        [](std::shared_ptr<Pool> pool, size_t size) -> py::object {
            void *block = pool->try_allocate(size ? size : 1);
            if (!block)
                return py::none();
            return py::cast(Message::adopt(pool, block, size));
        },
        py::arg("pool"), py::arg("size"),
        "A new Message of `size` bytes in a block of the pool, to be filled through its "
        "(writable) buffer; None when the pool has no room now");
    m.def(
        "adopt_block",
        [](std::shared_ptr<Pool> pool, uint64_t handle, size_t size) {
            return Message::adopt(pool, pool->pointer_of(handle), size);
        },
        py::arg("pool"), py::arg("handle"), py::arg("size"),
        "The Message that is this pool block (freed when the Message goes)");

    py::class_<Message>(m, "Message", py::buffer_protocol(),
                        "A received message; a large one is the sender's pool block itself, "
                        "freed when this object and every memoryview of it are gone")
        .def_buffer([](Message &msg) {
            // Writable: the receiver owns the block, so unpickled numpy arrays may be too.
            auto *data = const_cast<std::byte *>(msg.size() ? msg.data() : &empty_byte);
            return py::buffer_info(data, 1, py::format_descriptor<uint8_t>::format(), 1,
                                   {py::ssize_t(msg.size())}, {py::ssize_t(1)}, false);
        })
        .def("__len__", &Message::size)
        .def_property_readonly("zero_copy", &Message::zero_copy)
        .def("tobytes", [](const Message &msg) {
            return py::bytes(reinterpret_cast<const char *>(msg.data()), msg.size());
        });

    py::class_<ReadinessWatch>(m, "ReadinessFd")
        .def("fileno", &ReadinessWatch::fileno)
        .def("refresh", &ReadinessWatch::refresh,
             "Brings the fd up to date now (after this process received)")
        .def("close", &ReadinessWatch::close);

    py::class_<MemoryBuffer>(m, "MemoryBuffer", py::buffer_protocol(),
                             "The shared bytes of a memory channel (see Channel.memory)")
        .def_buffer([](MemoryBuffer &b) {
            return py::buffer_info(b.data, 1, py::format_descriptor<uint8_t>::format(), 1,
                                   {py::ssize_t(b.size)}, {py::ssize_t(1)}, false);
        })
        .def("__len__", [](const MemoryBuffer &b) { return b.size; });

    py::class_<Channel>(m, "Channel")
        .def_static(
            "create",
            [](std::shared_ptr<Pool> pool, uint32_t capacity, uint32_t slot_size, bool unbounded) {
                return Channel::create(std::move(pool),
                                       ChannelOptions{capacity, slot_size, unbounded});
            },
            py::arg("pool"), py::arg("capacity") = 1024, py::arg("slot_size") = 128,
            py::arg("unbounded") = false,
            "A new channel; unbounded: sends never wait, what does not fit the ring of "
            "`capacity` messages overflows to pool blocks")
        .def_static("create_memory", &Channel::create_memory, py::arg("pool"), py::arg("size"),
                    "A memory channel: `size` zeroed shared bytes with a channel's identity "
                    "and lifetime (Value and Array live in one)")
        .def(
            "memory",
            [](py::object self) {
                auto &ch = self.cast<Channel &>();
                if (!ch.is_memory())
                    throw py::value_error("channel " + ch.descriptor() +
                                          " is not a memory channel: it has no bytes to view");
                return MemoryBuffer{self, ch.memory(), ch.memory_size()};
            },
            "A writable buffer over the memory channel's bytes")
        .def_property_readonly("memory_size", &Channel::memory_size)
        .def_static("attach", &Channel::attach, py::arg("descriptor"),
                    py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("descriptor", &Channel::descriptor)
        .def("transit_descriptor", &Channel::transit_descriptor,
             "The descriptor plus a reference that keeps the channel alive until a process "
             "attaches it or this process is gone: what pickling sends")
        .def(
            "send",
            [](Channel &ch, const py::buffer &data, const py::object &timeout) {
                HeldBuffer buf(data.ptr(), false);
                send_releasing_gil_to_wait(ch, buf.data(), buf.size(), to_timeout(timeout));
            },
            py::arg("data"), py::arg("timeout") = py::none())
        .def(
            "try_send",
            [](Channel &ch, const py::buffer &data) {
                HeldBuffer buf(data.ptr(), false);
                py::gil_scoped_release unlocked;
                return ch.try_send(buf.data(), buf.size());
            },
            py::arg("data"))
        .def("send_parts", &send_parts, py::arg("parts"), py::arg("timeout") = py::none(),
             "Sends [pickle stream, *out-of-band buffers] as one framed pool block")
        .def(
            "recv",
            [](Channel &ch, const py::object &timeout) {
                return recv_releasing_gil_to_wait(ch, to_timeout(timeout));
            },
            py::arg("timeout") = py::none())
        .def(
            "recv_payload",
            [](Channel &ch, const py::object &timeout) -> py::object {
                Message msg = recv_releasing_gil_to_wait(ch, to_timeout(timeout));
                if (msg.zero_copy())
                    return py::cast(std::move(msg));
                return py::bytes(reinterpret_cast<const char *>(msg.data()), msg.size());
            },
            py::arg("timeout") = py::none(),
            "As recv(), but an inline message comes as bytes (cheaper for small objects) and "
            "only a pool block as a Message")
        .def("try_recv",
             [](Channel &ch) -> py::object {
                 std::optional<Message> msg = ch.try_recv(); // never waits: keeps the GIL
                 if (!msg)
                     return py::none();
                 return py::cast(std::move(*msg));
             })
        .def(
            "recv_into",
            [](Channel &ch, const py::buffer &target, size_t offset,
               const py::object &timeout) -> py::object {
                Message msg = recv_releasing_gil_to_wait(ch, to_timeout(timeout));
                HeldBuffer buf(target.ptr(), true);
                if (offset > buf.size() || buf.size() - offset < msg.size())
                    return py::cast(std::move(msg)); // too short: the caller raises with it
                {
                    py::gil_scoped_release unlocked;
                    std::memcpy(static_cast<std::byte *>(buf.data()) + offset, msg.data(),
                                msg.size());
                }
                return py::int_(msg.size());
            },
            py::arg("buffer"), py::arg("offset") = 0, py::arg("timeout") = py::none(),
            "Receives into `buffer` at `offset`; returns the byte count, or the Message "
            "itself if it does not fit")
        .def(
            "poll",
            [](const Channel &ch, const py::object &timeout) {
                Timeout t = to_timeout(timeout);
                ChannelSet set;
                set.add(ch);
                if (t == no_wait)
                    return !set.wait(t).empty(); // a look, nothing to interrupt
                SignalsDuringWait signals;
                py::gil_scoped_release unlocked;
                return !set.wait(t).empty();
            },
            py::arg("timeout") = 0.0, "Whether a message is waiting, waiting up to `timeout`")
        .def(
            "readiness_fd",
            [](py::object self) {
                auto watch = std::make_unique<ReadinessWatch>();
                watch->channel = self;
                watch->readiness = std::make_unique<ReadinessFd>(self.cast<const Channel &>());
                return watch;
            },
            "An fd readable while a message waits (for select and connection.wait)")
        .def("readable", &Channel::readable)
        .def("size", &Channel::size)
        .def_property_readonly("capacity", &Channel::capacity)
        .def_property_readonly("unbounded", &Channel::unbounded)
        .def_property_readonly("inline_max", &Channel::inline_max)
        .def_property_readonly("destroyed", &Channel::destroyed)
        .def("held_elsewhere", &Channel::held_elsewhere,
             "Whether another process (or a descriptor in transit) holds the channel")
        .def("destroy", &Channel::destroy);
}

} // namespace dragon::py_module
