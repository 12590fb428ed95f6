#include "private_tmpdir.hpp"

#include "core/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace dragon::wireup {

PrivateTmpdir::PrivateTmpdir(const std::string &prefix)
{
    const char *base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + "XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) // mkdtemp creates it 0700
        throw Error(DRAGON_ERR_PERMISSION, "cannot create a private directory " + pattern + ": " +
                                               std::strerror(errno) +
                                               ": point TMPDIR at a writable directory");
    path_ = buf.data();
}

PrivateTmpdir::~PrivateTmpdir()
{
    std::error_code ec; // best effort: a destructor must not throw
    std::filesystem::remove_all(path_, ec);
}

} // namespace dragon::wireup
