#include "json_writer.hpp"

#include <cstdio>

namespace dragon::cli {

void JsonWriter::separate()
{
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!first_.empty()) {
        if (!first_.back())
            out_ << ',';
        first_.back() = false;
    }
}

void JsonWriter::quoted(std::string_view s)
{
    out_ << '"';
    for (char c : s) {
        switch (c) {
        case '"': out_ << "\\\""; break;
        case '\\': out_ << "\\\\"; break;
        case '\n': out_ << "\\n"; break;
        case '\t': out_ << "\\t"; break;
        case '\r': out_ << "\\r"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out_ << buf;
            } else {
                out_ << c;
            }
        }
    }
    out_ << '"';
}

JsonWriter &JsonWriter::begin_object()
{
    separate();
    out_ << '{';
    first_.push_back(true);
    return *this;
}

JsonWriter &JsonWriter::end_object()
{
    first_.pop_back();
    out_ << '}';
    return *this;
}

JsonWriter &JsonWriter::begin_array()
{
    separate();
    out_ << '[';
    first_.push_back(true);
    return *this;
}

JsonWriter &JsonWriter::end_array()
{
    first_.pop_back();
    out_ << ']';
    return *this;
}

JsonWriter &JsonWriter::key(std::string_view k)
{
    separate();
    quoted(k);
    out_ << ':';
    after_key_ = true;
    return *this;
}

JsonWriter &JsonWriter::value(std::string_view v)
{
    separate();
    quoted(v);
    return *this;
}

JsonWriter &JsonWriter::value(long long v)
{
    separate();
    out_ << v;
    return *this;
}

JsonWriter &JsonWriter::value(bool v)
{
    separate();
    out_ << (v ? "true" : "false");
    return *this;
}

JsonWriter &JsonWriter::null()
{
    separate();
    out_ << "null";
    return *this;
}

} // namespace dragon::cli
