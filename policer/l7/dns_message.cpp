// dns_message.cpp - see dns_message.h. Offsets are size_t and every comparison is written as
// "bytes left < bytes needed", so no sum can wrap whatever `len` is.
#include "policer/l7/dns_message.h"

#include <arpa/inet.h>

#include <cstring>

namespace policer::l7 {

namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxNameWire = 255; // labels with their length bytes, plus the root byte
constexpr int kMaxPointers = 16;

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeAaaa = 28;
constexpr uint16_t kClassIn = 1;

uint16_t be16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

uint32_t be32(const uint8_t *p) {
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
}

std::string num(size_t n) {
    return std::to_string(n);
}

// Appends one label's bytes as presentation text: lowercase, with '.', '\' and bytes outside
// printable ASCII (and space) escaped like dig does.
void append_label(std::string &out, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z') {
            out += static_cast<char>(c - 'A' + 'a');
        } else if (c == '.' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c <= 0x20 || c >= 0x7f) {
            out += '\\';
            out += static_cast<char>('0' + c / 100);
            out += static_cast<char>('0' + c / 10 % 10);
            out += static_cast<char>('0' + c % 10);
        } else {
            out += static_cast<char>(c);
        }
    }
}

// Decodes the name starting at `pos` into `out`. On success `next` is the offset just past the
// name where it sits (past its first pointer, or past its root label). On failure returns false
// with `err` set.
//
// Loop protection: a pointer must point strictly before the start of the run of labels it ends
// (the name's start, or the previous pointer's target). Targets thus strictly decrease, so no
// loop can exist; kMaxPointers bounds the work per name on top of that.
bool read_name(const uint8_t *msg, size_t len, size_t pos, std::string &out, size_t &next,
               std::string &err) {
    out.clear();
    size_t wire = 1; // the root label
    size_t run_start = pos;
    size_t p = pos;
    int pointers = 0;
    bool jumped = false;
    for (;;) {
        if (p >= len) {
            err = "name runs past the end of the message";
            return false;
        }
        const uint8_t b = msg[p];
        if ((b & 0xc0) == 0xc0) {
            if (len - p < 2) {
                err = "name pointer cut short by the end of the message";
                return false;
            }
            const size_t target = static_cast<size_t>(b & 0x3f) << 8 | msg[p + 1];
            if (target >= p) {
                err = "forward name pointer (at offset " + num(p) + " to " + num(target) + ")";
                return false;
            }
            if (target >= run_start) {
                err = "name pointer loop (at offset " + num(p) + " to " + num(target) + ")";
                return false;
            }
            if (target < kHeaderSize) {
                err = "name pointer into the header (to offset " + num(target) + ")";
                return false;
            }
            if (++pointers > kMaxPointers) {
                err = "more than " + num(kMaxPointers) + " name pointers";
                return false;
            }
            if (!jumped) next = p + 2;
            jumped = true;
            run_start = target;
            p = target;
            continue;
        }
        if (b & 0xc0) {
            // 0x40 and 0x80: extended / reserved label types (RFC 6891 deprecated them); a
            // normal label length is at most 63 so this is also what "a longer label" reads as.
            err = "label length byte " + num(b) + " (labels are at most " + num(kMaxLabel) +
                  " bytes; extended label types are not supported)";
            return false;
        }
        if (b == 0) {
            if (!jumped) next = p + 1;
            return true;
        }
        wire += 1 + static_cast<size_t>(b);
        if (wire > kMaxNameWire) {
            err = "name longer than " + num(kMaxNameWire) + " bytes";
            return false;
        }
        if (len - p - 1 < b) {
            err = "label runs past the end of the message";
            return false;
        }
        if (!out.empty()) out += '.';
        append_label(out, msg + p + 1, b);
        p += 1 + static_cast<size_t>(b);
    }
}

std::string ip_text(int af, const uint8_t *addr) {
    char buf[INET6_ADDRSTRLEN];
    return inet_ntop(af, addr, buf, sizeof(buf)) ? std::string(buf) : std::string();
}

// "DNS answer 3: name pointer loop (...)"; the section name is built only on failure.
Error fail(const char *section, size_t index, const std::string &what) {
    std::string where = index ? std::string(section) + " " + num(index) : std::string(section);
    return Error{"DNS " + where + ": " + what};
}

} // namespace

Result<DnsMessage> parse_dns(const uint8_t *msg, size_t len) {
    if (len < kHeaderSize)
        return fail("header", 0, "message of " + num(len) + " bytes is shorter than a header");
    DnsMessage m;
    m.id = be16(msg);
    const uint16_t flags = be16(msg + 2);
    m.response = (flags & 0x8000) != 0;
    m.rcode = static_cast<uint8_t>(flags & 0x000f);
    const size_t qdcount = be16(msg + 4);
    const size_t ancount = be16(msg + 6);

    std::string name, err;
    size_t pos = kHeaderSize;
    for (size_t i = 1; i <= qdcount; ++i) {
        size_t next = 0;
        if (!read_name(msg, len, pos, name, next, err)) return fail("question", i, err);
        if (len - next < 4) return fail("question", i, "type and class cut short");
        if (i == 1) {
            m.question = name;
            m.question_type = be16(msg + next);
        }
        pos = next + 4;
    }

    for (size_t i = 1; i <= ancount; ++i) {
        size_t next = 0;
        if (!read_name(msg, len, pos, name, next, err)) return fail("answer", i, err);
        if (len - next < 10) return fail("answer", i, "record header cut short");
        const uint16_t type = be16(msg + next);
        const uint16_t klass = be16(msg + next + 2) & 0x7fff; // mDNS: top bit is cache-flush
        uint32_t ttl = be32(msg + next + 4);
        if (ttl > 0x7fffffff) ttl = 0;
        const size_t rdlength = be16(msg + next + 8);
        const size_t rdata = next + 10;
        if (len - rdata < rdlength)
            return fail("answer", i,
                        "rdata of " + num(rdlength) + " bytes runs past the end of the message (" +
                            num(len - rdata) + " left)");
        pos = rdata + rdlength;

        if (klass != kClassIn || (type != kTypeA && type != kTypeAaaa && type != kTypeCname))
            continue;
        DnsRecord r;
        r.type = type;
        r.ttl = ttl;
        if (type == kTypeA) {
            if (rdlength != 4)
                return fail("answer", i,
                            "A record with rdlength " + num(rdlength) + " (must be 4)");
            std::memcpy(r.addr, msg + rdata, 4);
            r.family = 2;
            r.data = ip_text(AF_INET, r.addr);
        } else if (type == kTypeAaaa) {
            if (rdlength != 16)
                return fail("answer", i,
                            "AAAA record with rdlength " + num(rdlength) + " (must be 16)");
            std::memcpy(r.addr, msg + rdata, 16);
            r.family = 10;
            r.data = ip_text(AF_INET6, r.addr);
        } else {
            size_t end = 0;
            if (!read_name(msg, len, rdata, r.data, end, err))
                return fail("answer", i, "CNAME target: " + err);
            if (end != pos)
                return fail("answer", i,
                            "CNAME rdlength " + num(rdlength) + " does not match its name (" +
                                num(end - rdata) + " bytes)");
        }
        if (m.answers.size() >= kMaxDnsAnswers) {
            m.answers_truncated = true;
            continue; // keep walking: the rest of the section is still checked
        }
        r.name = name;
        m.answers.push_back(std::move(r));
    }
    return m;
}

Result<DnsMessage> parse_dns_tcp(const uint8_t *payload, size_t len) {
    if (len < 2)
        return Error{"DNS over TCP: payload of " + num(len) + " bytes has no length prefix"};
    const size_t msg_len = be16(payload);
    if (len - 2 < msg_len)
        return Error{"DNS over TCP: message cut short (" + num(len - 2) + " of " + num(msg_len) +
                     " bytes)"};
    return parse_dns(payload + 2, msg_len);
}

std::string dns_type_name(uint16_t type) {
    switch (type) {
    case 1: return "A";
    case 2: return "NS";
    case 5: return "CNAME";
    case 6: return "SOA";
    case 12: return "PTR";
    case 15: return "MX";
    case 16: return "TXT";
    case 28: return "AAAA";
    case 33: return "SRV";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case 255: return "ANY";
    default: return "TYPE" + std::to_string(type);
    }
}

std::string dns_rcode_name(uint8_t rcode) {
    static const char *const names[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                        "NXDOMAIN", "NOTIMP",  "REFUSED"};
    if (rcode < sizeof(names) / sizeof(names[0])) return names[rcode];
    return "RCODE" + std::to_string(rcode);
}

} // namespace policer::l7
