// l7_info.cpp - see l7_info.h.
#include "policer/l7/l7_info.h"

#include <cctype>

namespace policer::l7 {

std::string L7Info::network_protocol() const {
    std::string p = master.empty() ? application : master;
    if (p == "Unknown") return "";
    for (char &c : p)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return p;
}

} // namespace policer::l7
