// A fresh private directory (mode 0700) that is removed with everything in it when
// the object goes away, on every exit path.
#pragma once

#include <filesystem>
#include <string>

namespace dragon::wireup {

class PrivateTmpdir {
public:
    // Under $TMPDIR (else /tmp), named <prefix>XXXXXX. Throws dragon::Error.
    explicit PrivateTmpdir(const std::string &prefix);
    ~PrivateTmpdir();
    PrivateTmpdir(const PrivateTmpdir &) = delete;
    PrivateTmpdir &operator=(const PrivateTmpdir &) = delete;

    const std::filesystem::path &path() const { return path_; }

private:
    std::filesystem::path path_;
};

} // namespace dragon::wireup
