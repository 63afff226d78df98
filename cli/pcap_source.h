// pcap_source.h - IP packets out of a capture file, whatever its link layer (Ethernet with
// VLAN tags, Linux cooked v1/v2, raw IP, BSD loopback). Packets that are not IP, or whose
// link header is cut off, are counted and skipped.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct pcap;

namespace policer::cli {

struct CapturedPacket {
    const uint8_t *ip = nullptr; // from the IP header
    size_t caplen = 0;           // bytes captured from there
    uint64_t ts_ns = 0;
};

struct PcapStats {
    uint64_t frames = 0;
    uint64_t non_ip = 0;   // other ethertypes (ARP, ...)
    uint64_t bad_link = 0; // link header cut off
};

class PcapSource {
public:
    static Result<std::unique_ptr<PcapSource>> open(const std::string &path);
    ~PcapSource();

    // The next IP packet; false at the end of the file (or on a read error: see error()).
    bool next(CapturedPacket &out);
    const std::string &error() const { return error_; }
    const PcapStats &stats() const { return stats_; }

private:
    PcapSource(pcap *p, int linktype) : p_(p), linktype_(linktype) {}
    pcap *p_;
    int linktype_;
    std::string error_;
    PcapStats stats_;
};

} // namespace policer::cli
