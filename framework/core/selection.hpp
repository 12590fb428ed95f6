// Choosing one plugin of a kind from a user's specification:
//   ""          automatic: the highest-priority plugin that can run here
//   "tcp"       exactly this one; an error carrying its reason if it cannot run
//   "hsta,tcp"  the first of these, in order, that can run
//   "^hugepage" automatic, never these (a list may follow: "^a,b")
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dragon {

struct SelectionSpec {
    enum class Mode { Automatic, Ordered, Excluding } mode = Mode::Automatic;
    std::vector<std::string> names;
};

// Throws dragon::Error (naming `variable`) on malformed syntax.
SelectionSpec parse_selection(std::string_view text, std::string_view variable);

struct Candidate {
    std::string name;
    bool available = false;
    int priority = 0;
    std::string reason; // why not available
};

struct SelectionResult {
    size_t index;         // into the candidates
    std::string decision; // human sentence: how and why it was chosen
};

// Throws dragon::Error when nothing suitable exists; the message names `variable`,
// the cause, and (for unknown names) the closest existing name.
SelectionResult select_plugin(const SelectionSpec &spec, const std::vector<Candidate> &candidates,
                              std::string_view kind, std::string_view variable);

} // namespace dragon
