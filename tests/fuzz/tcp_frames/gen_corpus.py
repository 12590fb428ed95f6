#!/usr/bin/env python3
"""Writes the seed corpus of the tcp_frames fuzzer (see README.md) into corpus/."""
import hashlib
import hmac
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = bytes(range(1, 33))  # the fuzzer's secret
FUZZ_NONCE = b"\x5a" * 32  # the fuzzer's own nonce
PEER_NONCE = bytes(range(100, 132))
MAGIC = 0x54475244
HELLO, CHALLENGE, PROOF, WELCOME, REFUSED, DATA, BYE = range(1, 8)


def frame(ftype, header=b"", payload=b"", magic=MAGIC, version=1, reserved=0, plen=None):
    plen = len(payload) if plen is None else plen
    return struct.pack("<IBBHQI", magic, version, ftype, len(header), plen, reserved) + header + payload


def mac(label, c, a, nc, na):
    msg = b"dragon-tcp-1 " + label + struct.pack("<II", c, a) + nc + na
    return hmac.new(SECRET, msg, hashlib.sha256).digest()


def seed(name, mode, stream, chunks=(255, 255)):
    with open(os.path.join(HERE, "corpus", name), "wb") as f:
        f.write(bytes([mode, chunks[0], chunks[1]]) + stream)


def main():
    os.makedirs(os.path.join(HERE, "corpus"), exist_ok=True)
    data = frame(DATA, b"hdr", b"payload") + frame(DATA) + frame(DATA, b"h" * 40, bytes(5000))
    large = frame(DATA, b"big", bytes(range(256)) * 40)  # 10 KiB > the fuzzer's 4 KiB eager
    # Authenticated streams.
    seed("data_frames", 0, data + frame(BYE))
    seed("data_byte_by_byte", 0, data, (0, 0))
    seed("large_placed", 0, large + frame(DATA, b"after", b"x"))
    seed("large_discarded", 4, large + frame(DATA, b"after", b"x"))
    seed("bad_magic", 0, frame(DATA, magic=0x12345678))
    seed("bad_version", 0, frame(DATA, version=9))
    seed("bad_reserved", 0, frame(DATA, reserved=1))
    seed("unknown_type", 0, frame(200))
    seed("oversized_payload", 0, frame(DATA, plen=(1 << 40) + 1))
    seed("oversized_header", 0, struct.pack("<IBBHQI", MAGIC, 1, DATA, 5000, 0, 0))
    seed("truncated", 0, frame(DATA, b"hdr", b"payload")[:-3])
    seed("handshake_after_auth", 0, frame(HELLO, payload=bytes(44)))
    # Acceptor (node 1 of 3) meets node 0: HELLO, PROOF, then data.
    hello = struct.pack("<III", 0, 1, 3) + PEER_NONCE
    proof = mac(b"connector", 0, 1, PEER_NONCE, FUZZ_NONCE)
    seed("acceptor_good", 1, frame(HELLO, payload=hello) + frame(PROOF, payload=proof) + data + large)
    seed("acceptor_bad_proof", 1, frame(HELLO, payload=hello) + frame(PROOF, payload=bytes(32)))
    seed("acceptor_data_first", 1, data)
    seed("acceptor_hello_mismatch", 1, frame(HELLO, payload=struct.pack("<III", 2, 1, 3) + PEER_NONCE))
    # Connector (node 1 dialing node 2): CHALLENGE, WELCOME, then data.
    challenge = struct.pack("<II", 2, 1) + PEER_NONCE
    welcome = mac(b"acceptor", 1, 2, FUZZ_NONCE, PEER_NONCE)
    seed("connector_good", 2, frame(CHALLENGE, payload=challenge) + frame(WELCOME, payload=welcome) + data)
    seed("connector_refused", 2, frame(CHALLENGE, payload=challenge) + frame(REFUSED, payload=b"no"))
    seed("connector_bad_welcome", 2, frame(CHALLENGE, payload=challenge) + frame(WELCOME, payload=bytes(32)))
    # Address parsers.
    seed("address_good", 3, b"tcp1 40123 10.200.0.2,127.0.0.1")
    seed("address_bad", 3, b"tcp1 99999 1.2.3")
    seed("cidr", 3, b"10.200.0.0/16")
    seed("cidr_bad", 3, b"999.1.1.1/99")


if __name__ == "__main__":
    main()
