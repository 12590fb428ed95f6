# _dragon.bytes_of and bytearray_of, which build every large bytes and bytearray
# payload a Queue or Pipe delivers:
# equal bytes at sizes around its huge-page threshold and page edges, from views at
# odd offsets, and a clear error for a buffer that is not contiguous.
import dragon  # noqa: F401
from dragon import _dragon

MIB = 1 << 20
source = bytes(range(251)) * ((20 * MIB) // 251 + 1)
view = memoryview(source)
for size in (0, 1, 4095, 4097, 8 * MIB - 1, 8 * MIB, 8 * MIB + 1, 2 * MIB + 3, 20 * MIB):
    for offset in (0, 1, 4093):
        part = view[offset:offset + size]
        got = _dragon.bytes_of(part)
        assert type(got) is bytes and got == part.tobytes(), (size, offset)
        got = _dragon.bytearray_of(part)
        assert type(got) is bytearray and got == part.tobytes(), (size, offset)
print('sizes ok')
assert _dragon.bytes_of(bytearray(b'abc')) == b'abc'
try:
    _dragon.bytes_of(view[::2])
except BufferError:
    print('strided refused ok')
