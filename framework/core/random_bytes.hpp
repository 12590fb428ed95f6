// Bytes from the kernel's random source (getrandom): job secrets, job ids, nonces.
#pragma once

#include <cstddef>
#include <string>

namespace dragon {

// `n` random bytes; throws dragon::Error if the kernel cannot give them.
std::string random_bytes(size_t n);

} // namespace dragon
