// The one exception type of the C++ side. Messages name the cause and the fix.
#pragma once

#include <dragon/plugin.h>

#include <stdexcept>
#include <string>

namespace dragon {

class Error : public std::runtime_error {
public:
    Error(dragon_status status, const std::string &message)
        : std::runtime_error(message), status_(status)
    {
    }
    dragon_status status() const { return status_; }

private:
    dragon_status status_;
};

// Text of errno `err` ("No such file or directory").
std::string errno_text(int err);

// Throws Error(status, what + ": " + plugin's message) when status is not DRAGON_OK.
void check_plugin_status(dragon_status status, const dragon_error &err, const std::string &what);

const char *status_name(dragon_status status);

} // namespace dragon
