// dns_message.h - a strict, bounded parser of DNS messages (RFC 1035 wire format) as carried
// in UDP payloads, or in TCP payloads behind their 2-byte length prefix.
//
// Only what policer uses is extracted: the header's id, QR bit and rcode, the first question,
// and the A, AAAA and CNAME records of the answer section (class IN). The authority and
// additional sections are not read. Every other part of the header, question and answer
// sections is still walked and checked, so a message is either accepted whole or rejected
// with a reason ("answer 3: name pointer loop"); nothing is partially trusted.
//
// Names come out as lowercase dotted text without the trailing dot ("" for the root). A label
// byte outside printable ASCII (and space) is escaped as \DDD in decimal, and a '.' or '\'
// inside a label as "\." and "\\", the way dig prints them: the text is always printable and
// unambiguous, and odd names (tunnelling, exfiltration) stay visible instead of being dropped.
//
// Limits: labels of at most 63 bytes, names of at most 255 bytes in wire form, at most 16
// compression pointers per name, each pointing strictly before every part of the name read so
// far (so that no loop is possible), at most 64 answers kept (answers_truncated set beyond).
// Parsing never throws, never reads outside [msg, msg + len), and takes time linear in len.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace policer::l7 {

struct DnsRecord {
    std::string name;
    uint16_t type = 0;
    uint32_t ttl = 0;      // seconds; values with the top bit set read as 0 (RFC 2181 section 8)
    std::string data;      // dotted/colon IP text for A/AAAA, target name for CNAME
    uint8_t addr[16] = {}; // A: first 4 bytes; AAAA: all 16
    uint8_t family = 0;    // 2 for A, 10 for AAAA, 0 otherwise
};

struct DnsMessage {
    uint16_t id = 0;
    bool response = false; // QR bit
    uint8_t rcode = 0;     // header RCODE (4 bits; no EDNS extension)
    std::string question;  // first question's name; "" when there is none (or for the root)
    uint16_t question_type = 0;
    std::vector<DnsRecord> answers; // A, AAAA and CNAME answers (class IN), in message order
    bool answers_truncated = false; // more than kMaxDnsAnswers of them: the rest are dropped
};

constexpr size_t kMaxDnsAnswers = 64;

// Parses one DNS message: a UDP payload of `len` bytes.
Result<DnsMessage> parse_dns(const uint8_t *msg, size_t len);

// Parses the first DNS message of a DNS-over-TCP payload: a 2-byte big-endian length, then the
// message. A message cut short by the capture is an error; bytes after it (a pipelined next
// message) are ignored.
Result<DnsMessage> parse_dns_tcp(const uint8_t *payload, size_t len);

// "A", "AAAA", "CNAME", ... or "TYPE<n>".
std::string dns_type_name(uint16_t type);

// "NOERROR", "NXDOMAIN", ... or "RCODE<n>".
std::string dns_rcode_name(uint8_t rcode);

} // namespace policer::l7
