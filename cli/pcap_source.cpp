// pcap_source.cpp - see pcap_source.h.
#include "cli/pcap_source.h"

#include <pcap/pcap.h>

namespace policer::cli {
namespace {

constexpr uint16_t kEtherIPv4 = 0x0800, kEtherIPv6 = 0x86dd, kEtherVlan = 0x8100,
                   kEtherQinQ = 0x88a8;

uint16_t be16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

bool is_ip_ethertype(uint16_t t) {
    return t == kEtherIPv4 || t == kEtherIPv6;
}

} // namespace

Result<std::unique_ptr<PcapSource>> PcapSource::open(const std::string &path) {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t *p =
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) return Error{"cannot read " + path + ": " + err};
    int lt = pcap_datalink(p);
    switch (lt) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_NULL:
    case DLT_LOOP: break;
    default: {
        std::string name = pcap_datalink_val_to_name(lt) ? pcap_datalink_val_to_name(lt) : "?";
        pcap_close(p);
        return Error{path + ": link type " + name + " (" + std::to_string(lt) +
                     ") is not supported (Ethernet, Linux cooked, raw IP and loopback are)"};
    }
    }
    return std::unique_ptr<PcapSource>(new PcapSource(p, lt));
}

PcapSource::~PcapSource() {
    pcap_close(p_);
}

bool PcapSource::next(CapturedPacket &out) {
    while (true) {
        pcap_pkthdr *h = nullptr;
        const u_char *d = nullptr;
        int r = pcap_next_ex(p_, &h, &d);
        if (r == PCAP_ERROR_BREAK) return false;
        if (r != 1) {
            error_ = pcap_geterr(p_);
            return false;
        }
        ++stats_.frames;
        const size_t cap = h->caplen;
        size_t off = 0;
        bool ip = false;
        switch (linktype_) {
        case DLT_EN10MB: {
            if (cap < 14) break;
            uint16_t type = be16(d + 12);
            off = 14;
            // Up to two VLAN tags (802.1Q, 802.1ad).
            bool cut = false;
            for (int tags = 0; tags < 2 && (type == kEtherVlan || type == kEtherQinQ); ++tags) {
                if (cap < off + 4) {
                    cut = true;
                    break;
                }
                type = be16(d + off + 2);
                off += 4;
            }
            if (cut) break; // counted below as a cut link header
            if (!is_ip_ethertype(type)) {
                ++stats_.non_ip;
                continue;
            }
            ip = true;
            break;
        }
        case DLT_LINUX_SLL:
            if (cap < 16) break;
            off = 16;
            ip = is_ip_ethertype(be16(d + 14));
            if (!ip) {
                ++stats_.non_ip;
                continue;
            }
            break;
        case DLT_LINUX_SLL2:
            if (cap < 20) break;
            off = 20;
            ip = is_ip_ethertype(be16(d));
            if (!ip) {
                ++stats_.non_ip;
                continue;
            }
            break;
        case DLT_NULL:
        case DLT_LOOP:
            if (cap < 4) break;
            off = 4;
            ip = true; // the family word's byte order varies; the IP version nibble decides
            break;
        default:
            ip = true; // raw IP
            break;
        }
        if (!ip) {
            ++stats_.bad_link;
            continue;
        }
        out.ip = d + off;
        out.caplen = cap - off;
        out.ts_ns = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull +
                    static_cast<uint64_t>(h->ts.tv_usec); // nanosecond precision requested
        return true;
    }
}

} // namespace policer::cli
