// A minimal streaming JSON writer (objects, arrays, strings, numbers, booleans).
#pragma once

#include <ostream>
#include <string_view>
#include <vector>

namespace dragon::cli {

class JsonWriter {
public:
    explicit JsonWriter(std::ostream &out) : out_(out) {}

    JsonWriter &begin_object();
    JsonWriter &end_object();
    JsonWriter &begin_array();
    JsonWriter &end_array();
    JsonWriter &key(std::string_view k);
    JsonWriter &value(std::string_view v);
    JsonWriter &value(const char *v) { return value(std::string_view(v)); }
    JsonWriter &value(long long v);
    JsonWriter &value(bool v);
    JsonWriter &null();

private:
    void separate();
    void quoted(std::string_view s);
    std::ostream &out_;
    std::vector<bool> first_; // per open container: nothing written yet
    bool after_key_ = false;
};

} // namespace dragon::cli
