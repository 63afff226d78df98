// pl-gen-pcap: writes a deterministic multi-protocol capture (classic pcap, Ethernet) for the
// dissection benchmark (bench/dissect_bench.sh).
//
//   pl-gen-pcap [--flows N] [--seed S] [--out FILE] [--concurrency W]
//
// Every flow is a whole conversation with consistent headers: TCP flows open with SYN,
// SYN-ACK, ACK, carry their payload in MSS-sized segments with correct sequence and
// acknowledgement numbers, and close with FIN; UDP flows are request/response exchanges.
// IPv4, TCP and UDP checksums are computed. About 10% of the flows are IPv6. The mix:
//
//   HTTP/1.1 GET with Host and User-Agent, and a response       18%
//   TLS 1.3: ClientHello (SNI, ALPN, supported_versions, key_share), ServerHello, data 20%
//   TLS 1.2: ClientHello, ServerHello + Certificate chain + ServerKeyExchange, data     10%
//   DNS: A or AAAA query and response (some CNAME chains, some NXDOMAIN)                22%
//   SSH: banner exchange, KEXINIT both ways, ECDH, encrypted-looking packets              5%
//   QUIC v1: a real (encrypted, header-protected) client Initial with a ClientHello,
//            a server Initial with a ServerHello, then short-header packets               7%
//   TCP with random payload to a random high port                                         9%
//   UDP with random payload to a random high port                                         9%
//
// Host names are hostNNNNN.bench.example (a few flows use well-known public names); DNS
// answers give the address that later flows to the same name use. Flows overlap: up to
// --concurrency of them (default 64) are open at once and their packets interleave.
// The same --flows and --seed always give the same bytes.
#include "splitmix64.h"

#include <gcrypt.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness (splitmix64).

class Rng {
public:
    explicit Rng(uint64_t seed) : gen_(seed) {}
    uint64_t next() { return gen_.next(); }
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
    uint32_t range(uint32_t lo, uint32_t hi) { return lo + below(hi - lo + 1); } // inclusive
    bool chance(uint32_t percent) { return below(100) < percent; }
    Bytes bytes(size_t n) {
        Bytes b(n);
        for (auto &x : b)
            x = static_cast<uint8_t>(next());
        return b;
    }
    template <typename T, size_t N>
    const T &pick(const T (&a)[N]) {
        return a[below(N)];
    }

private:
    SplitMix64 gen_;
};

// ---------------------------------------------------------------------------------------------
// Byte building.

void u8(Bytes &b, unsigned v) {
    b.push_back(static_cast<uint8_t>(v));
}
void u16(Bytes &b, unsigned v) {
    u8(b, v >> 8);
    u8(b, v);
}
void u24(Bytes &b, unsigned v) {
    u8(b, v >> 16);
    u16(b, v);
}
void u32(Bytes &b, uint32_t v) {
    u16(b, v >> 16);
    u16(b, v);
}
void raw(Bytes &b, const Bytes &x) {
    b.insert(b.end(), x.begin(), x.end());
}
void raw(Bytes &b, const std::string &s) {
    b.insert(b.end(), s.begin(), s.end());
}
void raw(Bytes &b, const uint8_t *p, size_t n) {
    b.insert(b.end(), p, p + n);
}
void set16(Bytes &b, size_t at, unsigned v) {
    b[at] = static_cast<uint8_t>(v >> 8);
    b[at + 1] = static_cast<uint8_t>(v);
}
Bytes len8(const Bytes &x) {
    Bytes b;
    u8(b, static_cast<unsigned>(x.size()));
    raw(b, x);
    return b;
}
Bytes len16(const Bytes &x) {
    Bytes b;
    u16(b, static_cast<unsigned>(x.size()));
    raw(b, x);
    return b;
}
Bytes len24(const Bytes &x) {
    Bytes b;
    u24(b, static_cast<unsigned>(x.size()));
    raw(b, x);
    return b;
}
Bytes str(const std::string &s) {
    return Bytes(s.begin(), s.end());
}
std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char *f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof(buf), f, ap);
    va_end(ap);
    return buf;
}

// ---------------------------------------------------------------------------------------------
// Names and addresses.

constexpr uint32_t kClients = 1000;
// A few flows go to well-known names, so that host-based sub-classification has work too.
const char *const kPublicNames[] = {
    "www.google.com",
    "www.youtube.com",
    "api.github.com",
    "en.wikipedia.org",
    "www.netflix.com",
    "graph.facebook.com",
    "www.amazon.com",
    "www.debian.org",
    "login.live.com",
    "cdn.jsdelivr.net",
    "www.cloudflare.com",
    "api.twitter.com",
    "slack.com",
    "zoom.us",
    "outlook.office365.com",
    "www.dropbox.com",
};

struct Name {
    std::string text;
    uint32_t id = 0; // server address index
};

// A host: a synthetic hostNNNNN.bench.example most of the time, else a public name.
Name pick_name(Rng &r, uint32_t n_hosts) {
    Name n;
    if (r.chance(8)) {
        uint32_t k = r.below(sizeof(kPublicNames) / sizeof(kPublicNames[0]));
        n.text = kPublicNames[k];
        n.id = 100000 + k;
    } else {
        n.id = r.below(n_hosts);
        n.text = fmt("host%05u.bench.example", n.id);
    }
    return n;
}

using Addr = std::array<uint8_t, 16>;

// Servers: 198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8:1::/48 (documentation).
Addr server_addr(bool v6, uint32_t id) {
    Addr a{};
    if (!v6) {
        uint32_t v = (198u << 24) | (18u << 16) | ((id + 256) & 0x1ffff);
        a = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
             static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    } else {
        a = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0};
        a[12] = static_cast<uint8_t>(id >> 24);
        a[13] = static_cast<uint8_t>(id >> 16);
        a[14] = static_cast<uint8_t>(id >> 8);
        a[15] = static_cast<uint8_t>(id);
    }
    return a;
}

// Clients: 10.1.0.0/16 and 2001:db8:c::/48.
Addr client_addr(bool v6, uint32_t c) {
    Addr a{};
    if (!v6) {
        a = {10, 1, static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c + 1)};
    } else {
        a = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0};
        a[14] = static_cast<uint8_t>(c >> 8);
        a[15] = static_cast<uint8_t>(c + 1);
    }
    return a;
}

Addr resolver_addr(bool v6, uint32_t k) {
    Addr a{};
    if (!v6)
        a = {198, 19, 255, static_cast<uint8_t>(1 + k)};
    else
        a = {0x20, 0x01, 0x0d, 0xb8, 0, 0x53, 0, 0,
             0,    0,    0,    0,    0, 0,    0, static_cast<uint8_t>(1 + k)};
    return a;
}

// ---------------------------------------------------------------------------------------------
// Frames: Ethernet + IPv4/IPv6 + TCP/UDP, checksums computed.

struct Endpoints {
    bool v6 = false;
    Addr cip{}, sip{};
    uint16_t cport = 0, sport = 0;
    std::array<uint8_t, 6> cmac{}, gwmac{};
};

uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1) acc += static_cast<uint32_t>(p[n - 1] << 8);
    return acc;
}
uint16_t fold(uint32_t acc) {
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return static_cast<uint16_t>(~acc);
}

// One direction-aware packet builder per flow.
class Conversation {
public:
    Conversation(const Endpoints &e, bool tcp, Rng &r) : e_(e), tcp_(tcp), r_(r) {
        seq_[0] = static_cast<uint32_t>(r.next());
        seq_[1] = static_cast<uint32_t>(r.next());
        ipid_[0] = static_cast<uint16_t>(r.next());
        ipid_[1] = static_cast<uint16_t>(r.next());
        ts_[0] = static_cast<uint32_t>(r.next());
        ts_[1] = static_cast<uint32_t>(r.next());
        mss_ = e.v6 ? 1440 : 1460;
    }

    std::vector<Bytes> frames;

    void handshake() {
        tcp_segment(true, 0x02, {}, true);  // SYN
        tcp_segment(false, 0x12, {}, true); // SYN-ACK
        tcp_segment(true, 0x10, {});        // ACK
    }
    // Payload in MSS-sized segments, PSH on the last.
    void send(bool from_client, const Bytes &data) {
        if (!tcp_) {
            udp_datagram(from_client, data);
            return;
        }
        for (size_t off = 0; off < data.size(); off += mss_) {
            size_t n = std::min<size_t>(mss_, data.size() - off);
            Bytes seg(data.begin() + static_cast<long>(off),
                      data.begin() + static_cast<long>(off + n));
            tcp_segment(from_client, off + n == data.size() ? 0x18 : 0x10, seg);
        }
    }
    void ack(bool from_client) { tcp_segment(from_client, 0x10, {}); }
    void close() {
        tcp_segment(true, 0x11, {});  // FIN-ACK
        tcp_segment(false, 0x11, {}); // FIN-ACK
        tcp_segment(true, 0x10, {});  // ACK
    }

private:
    void tcp_segment(bool from_client, uint8_t flags, const Bytes &payload, bool syn = false) {
        const int me = from_client ? 0 : 1, peer = 1 - me;
        Bytes h;
        u16(h, from_client ? e_.cport : e_.sport);
        u16(h, from_client ? e_.sport : e_.cport);
        u32(h, seq_[me]);
        u32(h, (flags & 0x10) ? seq_[peer] : 0);
        const unsigned opt_len = syn ? 20 : 12;
        u8(h, (20 + opt_len) / 4 << 4);
        u8(h, flags);
        u16(h, syn ? (from_client ? 64240 : 65160) : 502);
        u16(h, 0); // checksum, below
        u16(h, 0); // urgent
        ts_[me] += 1 + r_.below(3);
        if (syn) {
            u8(h, 2), u8(h, 4), u16(h, mss_);     // MSS
            u8(h, 4), u8(h, 2);                   // SACK permitted
            u8(h, 8), u8(h, 10), u32(h, ts_[me]); // timestamps
            u32(h, (flags & 0x10) ? ts_[peer] : 0);
            u8(h, 1), u8(h, 3), u8(h, 3), u8(h, 7); // NOP, window scale 7
        } else {
            u8(h, 1), u8(h, 1), u8(h, 8), u8(h, 10); // NOP NOP timestamps
            u32(h, ts_[me]);
            u32(h, ts_[peer]);
        }
        raw(h, payload);
        seq_[me] += static_cast<uint32_t>(payload.size()) + ((flags & 0x03) ? 1 : 0);
        emit(from_client, 6, h, 16);
    }

    void udp_datagram(bool from_client, const Bytes &payload) {
        Bytes h;
        u16(h, from_client ? e_.cport : e_.sport);
        u16(h, from_client ? e_.sport : e_.cport);
        u16(h, static_cast<unsigned>(8 + payload.size()));
        u16(h, 0);
        raw(h, payload);
        emit(from_client, 17, h, 6);
    }

    // Wraps an L4 segment in IP and Ethernet; fills the L4 checksum at `csum_at`.
    void emit(bool from_client, uint8_t proto, Bytes &l4, size_t csum_at) {
        const Addr &src = from_client ? e_.cip : e_.sip;
        const Addr &dst = from_client ? e_.sip : e_.cip;
        const size_t alen = e_.v6 ? 16 : 4;
        uint32_t acc = sum16(src.data(), alen);
        acc = sum16(dst.data(), alen, acc);
        acc += proto + static_cast<uint32_t>(l4.size());
        uint16_t c = fold(sum16(l4.data(), l4.size(), acc));
        if (proto == 17 && c == 0) c = 0xffff;
        set16(l4, csum_at, c);

        Bytes f;
        const auto &dmac = from_client ? e_.gwmac : e_.cmac;
        const auto &smac = from_client ? e_.cmac : e_.gwmac;
        raw(f, dmac.data(), 6);
        raw(f, smac.data(), 6);
        u16(f, e_.v6 ? 0x86dd : 0x0800);
        const size_t ip_at = f.size();
        const int me = from_client ? 0 : 1;
        if (!e_.v6) {
            u8(f, 0x45);
            u8(f, 0);
            u16(f, static_cast<unsigned>(20 + l4.size()));
            u16(f, ipid_[me]++);
            u16(f, 0x4000); // DF
            u8(f, from_client ? 64 : 57);
            u8(f, proto);
            u16(f, 0);
            raw(f, src.data(), 4);
            raw(f, dst.data(), 4);
            set16(f, ip_at + 10, fold(sum16(f.data() + ip_at, 20)));
        } else {
            u32(f, 0x60000000u | (static_cast<uint32_t>(e_.cport ^ e_.sport) & 0xfffff));
            u16(f, static_cast<unsigned>(l4.size()));
            u8(f, proto);
            u8(f, from_client ? 64 : 57);
            raw(f, src.data(), 16);
            raw(f, dst.data(), 16);
        }
        raw(f, l4);
        frames.push_back(std::move(f));
    }

    Endpoints e_;
    bool tcp_;
    Rng &r_;
    uint32_t seq_[2];
    uint16_t ipid_[2];
    uint32_t ts_[2];
    uint16_t mss_;
};

// ---------------------------------------------------------------------------------------------
// TLS.

const uint16_t kGrease[] = {0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a,
                            0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa};

Bytes extension(unsigned type, const Bytes &data) {
    Bytes b;
    u16(b, type);
    raw(b, len16(data));
    return b;
}

Bytes handshake(unsigned type, const Bytes &body) {
    Bytes b;
    u8(b, type);
    raw(b, len24(body));
    return b;
}

Bytes record(unsigned type, unsigned version, const Bytes &fragment) {
    Bytes b;
    u8(b, type);
    u16(b, version);
    raw(b, len16(fragment));
    return b;
}

Bytes quic_varint(uint64_t v) {
    Bytes b;
    if (v < 64) {
        u8(b, static_cast<unsigned>(v));
    } else if (v < 16384) {
        u16(b, static_cast<unsigned>(0x4000 | v));
    } else {
        u32(b, static_cast<uint32_t>(0x80000000u | v));
    }
    return b;
}

// A ClientHello handshake message (no record header). Chrome- or Firefox-like.
Bytes client_hello(Rng &r, const std::string &sni, bool tls13, bool quic,
                   const std::vector<std::string> &alpn) {
    const bool grease = r.chance(50);
    const uint16_t g = r.pick(kGrease);
    Bytes body;
    u16(body, 0x0303);
    raw(body, r.bytes(32));
    if (quic) {
        u8(body, 0);
    } else {
        raw(body, len8(r.bytes(32)));
    }
    Bytes suites;
    if (grease) u16(suites, g);
    if (tls13 || quic) u16(suites, 0x1301), u16(suites, 0x1302), u16(suites, 0x1303);
    if (!quic)
        for (unsigned s : {0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
                           0x009d, 0x002f, 0x0035})
            u16(suites, s);
    raw(body, len16(suites));
    u8(body, 1), u8(body, 0); // compression: null

    Bytes ext;
    if (grease) raw(ext, extension(g ^ 0x1010, {}));
    {
        Bytes name;
        u8(name, 0); // host_name
        raw(name, len16(str(sni)));
        raw(ext, extension(0x0000, len16(name)));
    }
    raw(ext, extension(0x0017, {}));  // extended_master_secret
    raw(ext, extension(0xff01, {0})); // renegotiation_info
    {
        Bytes groups;
        if (grease) u16(groups, g);
        u16(groups, 0x001d), u16(groups, 0x0017), u16(groups, 0x0018);
        raw(ext, extension(0x000a, len16(groups))); // supported_groups
    }
    raw(ext, extension(0x000b, {1, 0}));        // ec_point_formats: uncompressed
    if (!quic) raw(ext, extension(0x0023, {})); // session_ticket
    if (!alpn.empty()) {
        Bytes list;
        for (const auto &p : alpn)
            raw(list, len8(str(p)));
        raw(ext, extension(0x0010, len16(list)));
    }
    raw(ext, extension(0x0005, {1, 0, 0, 0, 0})); // status_request: OCSP
    {
        Bytes algs;
        for (unsigned a : {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601})
            u16(algs, a);
        raw(ext, extension(0x000d, len16(algs))); // signature_algorithms
    }
    if (tls13 || quic) {
        Bytes share;
        u16(share, 0x001d);
        raw(share, len16(r.bytes(32)));
        raw(ext, extension(0x0033, len16(share))); // key_share: x25519
        raw(ext, extension(0x002d, {1, 1}));       // psk_key_exchange_modes: psk_dhe_ke
    }
    {
        Bytes versions;
        if (grease) u16(versions, g);
        if (tls13 || quic) u16(versions, 0x0304);
        if (!quic) u16(versions, 0x0303);
        raw(ext, extension(0x002b, len8(versions))); // supported_versions
    }
    if (quic) {
        Bytes tp;
        auto param = [&tp](uint64_t id, const Bytes &v) {
            raw(tp, quic_varint(id));
            raw(tp, quic_varint(v.size()));
            raw(tp, v);
        };
        param(0x01, quic_varint(30000));    // max_idle_timeout
        param(0x04, quic_varint(15728640)); // initial_max_data
        param(0x05, quic_varint(6291456));  // initial_max_stream_data_bidi_local
        param(0x08, quic_varint(100));      // initial_max_streams_bidi
        param(0x0f, r.bytes(8));            // initial_source_connection_id
        raw(ext, extension(0x0039, tp));    // quic_transport_parameters
    } else {
        raw(ext, extension(0x001c, {0x40, 0x01})); // record_size_limit
    }
    raw(body, len16(ext));
    return handshake(1, body);
}

Bytes server_hello(Rng &r, bool tls13, bool quic, const std::string &alpn) {
    Bytes body;
    u16(body, 0x0303);
    raw(body, r.bytes(32));
    if (quic)
        u8(body, 0);
    else
        raw(body, len8(r.bytes(32)));
    u16(body, tls13 || quic ? 0x1301 : 0xc02f);
    u8(body, 0);
    Bytes ext;
    if (tls13 || quic) {
        raw(ext, extension(0x002b, {0x03, 0x04})); // supported_versions: TLS 1.3
        Bytes share;
        u16(share, 0x001d);
        raw(share, len16(r.bytes(32)));
        raw(ext, extension(0x0033, share)); // key_share
    } else {
        raw(ext, extension(0xff01, {0}));
        raw(ext, extension(0x0000, {}));
        raw(ext, extension(0x000b, {1, 0}));
        raw(ext, extension(0x0017, {}));
        if (!alpn.empty()) raw(ext, extension(0x0010, len16(len8(str(alpn)))));
        raw(ext, extension(0x0023, {}));
    }
    raw(body, len16(ext));
    return handshake(2, body);
}

// DER.
Bytes der(unsigned tag, const Bytes &content) {
    Bytes b;
    u8(b, tag);
    const size_t n = content.size();
    if (n < 128) {
        u8(b, static_cast<unsigned>(n));
    } else if (n < 256) {
        u8(b, 0x81), u8(b, static_cast<unsigned>(n));
    } else {
        u8(b, 0x82), u16(b, static_cast<unsigned>(n));
    }
    raw(b, content);
    return b;
}
Bytes seq(std::initializer_list<Bytes> items) {
    Bytes c;
    for (const auto &i : items)
        raw(c, i);
    return der(0x30, c);
}
const Bytes kOidSha256Rsa = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
const Bytes kOidRsa = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
const Bytes kNull = {0x05, 0x00};

Bytes rdn(uint8_t attr, unsigned string_tag, const std::string &value) {
    return der(0x31, seq({Bytes{0x06, 0x03, 0x55, 0x04, attr}, der(string_tag, str(value))}));
}
Bytes dn(const std::string &org, const std::string &cn) {
    return seq({rdn(0x06, 0x13, "US"), rdn(0x0a, 0x0c, org), rdn(0x03, 0x0c, cn)});
}

// An X.509 v3 certificate with an RSA-2048-sized key and signature (random bytes), valid from
// 2024-01-01 to `not_after` (UTCTime).
Bytes certificate(Rng &r, const std::string &issuer, const std::string &subject,
                  const std::string &san, const char *not_after) {
    Bytes serial = r.bytes(16);
    serial[0] &= 0x7f;
    const Bytes alg = seq({kOidSha256Rsa, kNull});
    Bytes modulus = r.bytes(257);
    modulus[0] = 0, modulus[1] |= 0x80;
    Bytes rsa_key = seq({der(0x02, modulus), der(0x02, {0x01, 0x00, 0x01})});
    Bytes key_bits{0};
    raw(key_bits, rsa_key);
    Bytes exts;
    if (!san.empty()) {
        Bytes san_ext =
            seq({Bytes{0x06, 0x03, 0x55, 0x1d, 0x11}, der(0x04, seq({der(0x82, str(san))}))});
        Bytes basic = seq({Bytes{0x06, 0x03, 0x55, 0x1d, 0x13}, der(0x04, seq({}))});
        exts = der(0xa3, seq({san_ext, basic}));
    } else {
        Bytes basic = seq({Bytes{0x06, 0x03, 0x55, 0x1d, 0x13}, Bytes{0x01, 0x01, 0xff},
                           der(0x04, seq({Bytes{0x01, 0x01, 0xff}}))});
        exts = der(0xa3, seq({basic}));
    }
    Bytes tbs = seq(
        {der(0xa0, {0x02, 0x01, 0x02}), der(0x02, serial), alg, dn("Bench Trust Services", issuer),
         seq({der(0x17, str("240101000000Z")), der(0x17, str(not_after))}),
         dn("Bench Hosting", subject), seq({seq({kOidRsa, kNull}), der(0x03, key_bits)}), exts});
    Bytes sig{0};
    raw(sig, r.bytes(256));
    return seq({tbs, alg, der(0x03, sig)});
}

// ---------------------------------------------------------------------------------------------
// QUIC v1 Initial packet protection (RFC 9001), with libgcrypt.

struct QuicKeys {
    uint8_t key[16], iv[12], hp[16];
};

void hmac_sha256(const uint8_t *key, size_t klen, const Bytes &data, uint8_t out[32]) {
    gcry_md_hd_t h;
    gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC);
    gcry_md_setkey(h, key, klen);
    gcry_md_write(h, data.data(), data.size());
    std::memcpy(out, gcry_md_read(h, GCRY_MD_SHA256), 32);
    gcry_md_close(h);
}

// HKDF-Expand-Label with an empty context, for outputs of at most 32 bytes.
void expand_label(const uint8_t secret[32], const std::string &label, uint8_t *out, size_t n) {
    Bytes info;
    u16(info, static_cast<unsigned>(n));
    raw(info, len8(str("tls13 " + label)));
    u8(info, 0);
    u8(info, 1); // HKDF-Expand counter
    uint8_t t[32];
    hmac_sha256(secret, 32, info, t);
    std::memcpy(out, t, n);
}

QuicKeys quic_initial_keys(const Bytes &dcid, bool client) {
    static const uint8_t salt[] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                   0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
    uint8_t initial[32], secret[32];
    hmac_sha256(salt, sizeof(salt), dcid, initial); // HKDF-Extract
    expand_label(initial, client ? "client in" : "server in", secret, 32);
    QuicKeys k;
    expand_label(secret, "quic key", k.key, 16);
    expand_label(secret, "quic iv", k.iv, 12);
    expand_label(secret, "quic hp", k.hp, 16);
    return k;
}

// A protected Initial packet carrying `frames`, padded so that the packet is at least
// `min_len` bytes.
Bytes quic_initial(const Bytes &dcid, const Bytes &scid, const QuicKeys &k, uint32_t pn,
                   Bytes frames, size_t min_len) {
    constexpr size_t pn_len = 2, tag_len = 16;
    Bytes h;
    u8(h, 0xc0 | (pn_len - 1));
    u32(h, 1); // version 1
    raw(h, len8(dcid));
    raw(h, len8(scid));
    u8(h, 0); // token length
    const size_t fixed = h.size() + 2 /*length*/ + pn_len + tag_len;
    if (fixed + frames.size() < min_len) frames.resize(min_len - fixed, 0); // PADDING frames
    u16(h, static_cast<unsigned>(0x4000 | (pn_len + frames.size() + tag_len)));
    const size_t pn_off = h.size();
    u16(h, pn);

    uint8_t nonce[12];
    std::memcpy(nonce, k.iv, 12);
    for (size_t i = 0; i < 4; ++i)
        nonce[11 - i] ^= static_cast<uint8_t>(pn >> (8 * i));
    Bytes ct(frames.size());
    uint8_t tag[tag_len];
    gcry_cipher_hd_t c;
    gcry_cipher_open(&c, GCRY_CIPHER_AES128, GCRY_CIPHER_MODE_GCM, 0);
    gcry_cipher_setkey(c, k.key, 16);
    gcry_cipher_setiv(c, nonce, 12);
    gcry_cipher_authenticate(c, h.data(), h.size());
    gcry_cipher_encrypt(c, ct.data(), ct.size(), frames.data(), frames.size());
    gcry_cipher_gettag(c, tag, tag_len);
    gcry_cipher_close(c);

    Bytes p = h;
    raw(p, ct);
    raw(p, tag, tag_len);
    // Header protection: mask from a 16-byte sample 4 bytes after the packet number starts.
    uint8_t mask[16];
    gcry_cipher_open(&c, GCRY_CIPHER_AES128, GCRY_CIPHER_MODE_ECB, 0);
    gcry_cipher_setkey(c, k.hp, 16);
    gcry_cipher_encrypt(c, mask, 16, p.data() + pn_off + 4, 16);
    gcry_cipher_close(c);
    p[0] ^= mask[0] & 0x0f;
    for (size_t i = 0; i < pn_len; ++i)
        p[pn_off + i] ^= mask[1 + i];
    return p;
}

Bytes crypto_frame(const Bytes &data) {
    Bytes f;
    u8(f, 0x06);
    raw(f, quic_varint(0));
    raw(f, quic_varint(data.size()));
    raw(f, data);
    return f;
}

// A long-header Handshake packet or a short-header packet: encrypted-looking bytes.
Bytes quic_opaque(Rng &r, bool long_header, const Bytes &dcid, const Bytes &scid, size_t len) {
    Bytes p;
    if (long_header) {
        u8(p, 0xe1);
        u32(p, 1);
        raw(p, len8(dcid));
        raw(p, len8(scid));
        const size_t rest = len > p.size() + 2 ? len - p.size() - 2 : 20;
        u16(p, static_cast<unsigned>(0x4000 | rest));
        raw(p, r.bytes(rest));
    } else {
        u8(p, 0x40 | (r.below(256) & 0x07));
        raw(p, dcid);
        raw(p, r.bytes(len > p.size() ? len - p.size() : 20));
    }
    return p;
}

// ---------------------------------------------------------------------------------------------
// Application conversations.

const char *const kUserAgents[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3 Safari/605.1.15",
    "curl/7.88.1",
    "Wget/1.21.3",
    "python-requests/2.28.1",
    "Debian APT-HTTP/1.3 (2.6.1)",
};

Bytes filler(Rng &r, size_t n) {
    static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do "
                                "eiusmod tempor incididunt ut labore et dolore magna aliqua ";
    Bytes b;
    raw(b, str("<!DOCTYPE html><html><head><title>bench</title></head><body><p>"));
    size_t at = r.below(sizeof(words) - 1);
    while (b.size() < n) {
        b.push_back(static_cast<uint8_t>(words[at]));
        at = (at + 1) % (sizeof(words) - 1);
    }
    b.resize(n);
    return b;
}

void http_flow(Conversation &c, Rng &r, const Name &host) {
    c.handshake();
    std::string path;
    switch (r.below(4)) {
    case 0: path = "/"; break;
    case 1: path = fmt("/api/v1/items/%u?lang=en", r.below(100000)); break;
    case 2: path = fmt("/static/app.%08x.js", static_cast<uint32_t>(r.next())); break;
    default: path = fmt("/images/photo-%u.jpg", r.below(5000)); break;
    }
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host.text +
                      "\r\nUser-Agent: " + r.pick(kUserAgents) +
                      "\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
                      "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n";
    c.send(true, str(req));
    c.ack(false);
    const uint32_t kind = r.below(10);
    const size_t body_len = kind < 8 ? r.range(200, 6000) : r.range(0, 300);
    const char *status = kind < 8    ? "200 OK"
                         : kind == 8 ? "301 Moved Permanently"
                                     : "404 Not Found";
    std::string head = fmt("HTTP/1.1 %s\r\nServer: nginx/1.22.1\r\n"
                           "Date: Fri, 01 Mar 2024 00:00:00 GMT\r\n"
                           "Content-Type: text/html; charset=utf-8\r\n"
                           "Content-Length: %zu\r\n",
                           status, body_len);
    if (kind == 8) head += "Location: https://" + host.text + path + "\r\n";
    head += "Connection: keep-alive\r\n\r\n";
    Bytes resp = str(head);
    raw(resp, filler(r, body_len));
    c.send(false, resp);
    c.ack(true);
    c.close();
}

void tls_flow(Conversation &c, Rng &r, const Name &host, bool tls13) {
    c.handshake();
    const char *alpns[][2] = {{"h2", "http/1.1"}, {"http/1.1", nullptr}, {"h2", nullptr}};
    const auto &a = alpns[r.below(3)];
    std::vector<std::string> alpn;
    for (const char *p : a)
        if (p) alpn.push_back(p);
    c.send(true, record(0x16, 0x0301, client_hello(r, host.text, tls13, false, alpn)));
    c.ack(false);
    if (tls13) {
        Bytes flight = record(0x16, 0x0303, server_hello(r, true, false, ""));
        raw(flight, record(0x14, 0x0303, {1}));                          // ChangeCipherSpec
        raw(flight, record(0x17, 0x0303, r.bytes(r.range(2000, 4200)))); // EE, Cert, CV, Fin
        c.send(false, flight);
        Bytes fin = record(0x14, 0x0303, {1});
        raw(fin, record(0x17, 0x0303, r.bytes(53)));
        c.send(true, fin);
    } else {
        Bytes flight = record(0x16, 0x0303, server_hello(r, false, false, alpn[0]));
        Bytes chain;
        raw(chain,
            len24(certificate(r, "Bench Intermediate CA", host.text, host.text, "241231235959Z")));
        raw(chain,
            len24(certificate(r, "Bench Root CA", "Bench Intermediate CA", "", "281231235959Z")));
        raw(flight, record(0x16, 0x0303, handshake(11, len24(chain))));
        Bytes ske;
        u8(ske, 3);       // named_curve
        u16(ske, 0x001d); // x25519
        raw(ske, len8(r.bytes(32)));
        u16(ske, 0x0804); // rsa_pss_rsae_sha256
        raw(ske, len16(r.bytes(256)));
        raw(flight, record(0x16, 0x0303, handshake(12, ske)));
        raw(flight, record(0x16, 0x0303, handshake(14, {}))); // ServerHelloDone
        c.send(false, flight);
        Bytes cke = record(0x16, 0x0303, handshake(16, len8(r.bytes(32))));
        raw(cke, record(0x14, 0x0303, {1}));
        raw(cke, record(0x16, 0x0303, r.bytes(40))); // encrypted Finished
        c.send(true, cke);
        Bytes sfin = record(0x14, 0x0303, {1});
        raw(sfin, record(0x16, 0x0303, r.bytes(40)));
        c.send(false, sfin);
    }
    const uint32_t rounds = r.range(1, 3);
    for (uint32_t i = 0; i < rounds; ++i) {
        c.send(true, record(0x17, 0x0303, r.bytes(r.range(80, 700))));
        c.send(false, record(0x17, 0x0303, r.bytes(r.range(200, 5000))));
        c.ack(true);
    }
    c.close();
}

Bytes dns_name(const std::string &name) {
    Bytes b;
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        raw(b, len8(str(name.substr(start, dot - start))));
        start = dot + 1;
    }
    u8(b, 0);
    return b;
}

Bytes dns_opt() {
    Bytes b;
    u8(b, 0);     // root
    u16(b, 41);   // OPT
    u16(b, 1232); // UDP payload size
    u32(b, 0);    // extended rcode, version, flags
    u16(b, 0);    // no options
    return b;
}

void dns_flow(Conversation &c, Rng &r, const Name &host, bool v6) {
    const uint16_t id = static_cast<uint16_t>(r.next());
    const unsigned qtype = v6 || r.chance(20) ? 28 : 1; // AAAA or A
    Bytes q;
    u16(q, id);
    u16(q, 0x0100); // RD
    u16(q, 1), u16(q, 0), u16(q, 0), u16(q, 1);
    const size_t question_at = q.size();
    raw(q, dns_name(host.text));
    u16(q, qtype);
    u16(q, 1);
    const Bytes question(q.begin() + static_cast<long>(question_at), q.end());
    raw(q, dns_opt());
    c.send(true, q);

    const bool nx = r.chance(5);
    const bool cname = !nx && r.chance(20);
    Bytes a;
    u16(a, id);
    u16(a, nx ? 0x8183 : 0x8180);
    u16(a, 1), u16(a, nx ? 0 : cname ? 2 : 1), u16(a, 0), u16(a, 1);
    raw(a, question);
    unsigned owner = 0xc00c; // the question's name
    const uint32_t ttl = r.range(30, 3600);
    if (cname) {
        u16(a, owner);
        u16(a, 5), u16(a, 1), u32(a, ttl);
        const Bytes target = dns_name(fmt("edge%03u.cdn.bench.example", r.below(500)));
        u16(a, static_cast<unsigned>(target.size()));
        owner = 0xc000 | static_cast<unsigned>(a.size());
        raw(a, target);
    }
    if (!nx) {
        u16(a, owner);
        u16(a, qtype), u16(a, 1), u32(a, ttl);
        const Addr addr = server_addr(qtype == 28, host.id);
        raw(a, len16(Bytes(addr.begin(), addr.begin() + (qtype == 28 ? 16 : 4))));
    }
    raw(a, dns_opt());
    c.send(false, a);
}

Bytes ssh_packet(Rng &r, const Bytes &payload) {
    size_t pad = 8 - (5 + payload.size()) % 8;
    if (pad < 4) pad += 8;
    Bytes b;
    u32(b, static_cast<uint32_t>(1 + payload.size() + pad));
    u8(b, static_cast<unsigned>(pad));
    raw(b, payload);
    raw(b, r.bytes(pad));
    return b;
}

Bytes kexinit(Rng &r, bool client) {
    Bytes p;
    u8(p, 20); // SSH_MSG_KEXINIT
    raw(p, r.bytes(16));
    auto list = [&p](const std::string &s) {
        u32(p, static_cast<uint32_t>(s.size()));
        raw(p, s);
    };
    list(std::string("curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
                     "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
                     "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
                     "diffie-hellman-group14-sha256") +
         (client ? ",ext-info-c" : ",kex-strict-s-v00@openssh.com"));
    list(client ? "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
                  "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256"
                : "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519");
    const std::string enc = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
                            "aes128-gcm@openssh.com,aes256-gcm@openssh.com";
    const std::string mac = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,"
                            "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
                            "hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,"
                            "hmac-sha2-256,hmac-sha2-512,hmac-sha1";
    list(enc), list(enc), list(mac), list(mac);
    list("none,zlib@openssh.com"), list("none,zlib@openssh.com");
    list(""), list("");
    u8(p, 0);  // first_kex_packet_follows
    u32(p, 0); // reserved
    return ssh_packet(r, p);
}

void ssh_flow(Conversation &c, Rng &r) {
    const char *const servers[] = {"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3",
                                   "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
                                   "SSH-2.0-dropbear_2022.83"};
    const char *const clients[] = {"SSH-2.0-OpenSSH_9.6", "SSH-2.0-PuTTY_Release_0.80",
                                   "SSH-2.0-libssh_0.10.5", "SSH-2.0-paramiko_3.4.0"};
    c.handshake();
    c.send(true, str(std::string(r.pick(clients)) + "\r\n"));
    c.send(false, str(std::string(r.pick(servers)) + "\r\n"));
    c.send(true, kexinit(r, true));
    c.send(false, kexinit(r, false));
    Bytes ecdh{30}; // SSH_MSG_KEX_ECDH_INIT
    u32(ecdh, 32);
    raw(ecdh, r.bytes(32));
    c.send(true, ssh_packet(r, ecdh));
    Bytes reply = ssh_packet(r, r.bytes(r.range(400, 1100)));
    reply[5] = 31;                   // SSH_MSG_KEX_ECDH_REPLY
    raw(reply, ssh_packet(r, {21})); // NEWKEYS
    c.send(false, reply);
    c.send(true, ssh_packet(r, {21}));
    const uint32_t rounds = r.range(2, 6);
    for (uint32_t i = 0; i < rounds; ++i) {
        c.send(true, r.bytes(r.range(36, 200)));
        c.send(false, r.bytes(r.range(36, 1400)));
    }
    c.ack(true);
    c.close();
}

void quic_flow(Conversation &c, Rng &r, const Name &host) {
    const Bytes dcid = r.bytes(8), scid = r.bytes(8), server_cid = r.bytes(8);
    const QuicKeys ck = quic_initial_keys(dcid, true), sk = quic_initial_keys(dcid, false);
    c.send(true, quic_initial(dcid, scid, ck, 0,
                              crypto_frame(client_hello(r, host.text, true, true, {"h3"})), 1200));
    // Server: Initial (ACK + ServerHello) coalesced with a Handshake packet.
    Bytes frames = {0x02, 0x00, 0x00, 0x00, 0x00}; // ACK of packet 0
    raw(frames, crypto_frame(server_hello(r, true, true, "")));
    Bytes dgram = quic_initial(scid, server_cid, sk, 0, frames, 0);
    raw(dgram, quic_opaque(r, true, scid, server_cid, 1200 - dgram.size()));
    c.send(false, dgram);
    c.send(false, quic_opaque(r, true, scid, server_cid, r.range(600, 1200)));
    c.send(true, quic_opaque(r, true, server_cid, scid, r.range(80, 200)));
    const uint32_t rounds = r.range(2, 5);
    for (uint32_t i = 0; i < rounds; ++i) {
        c.send(true, quic_opaque(r, false, server_cid, {}, r.range(40, 400)));
        c.send(false, quic_opaque(r, false, scid, {}, r.range(100, 1250)));
    }
}

void random_flow(Conversation &c, Rng &r, bool tcp) {
    if (tcp) c.handshake();
    const uint32_t rounds = r.range(1, 4);
    for (uint32_t i = 0; i < rounds; ++i) {
        c.send(true, r.bytes(r.range(20, 900)));
        c.send(false, r.bytes(r.range(20, tcp ? 3000 : 1200)));
    }
    if (tcp) c.close();
}

// ---------------------------------------------------------------------------------------------
// Flows and their interleaving.

enum class Kind { Http, Tls13, Tls12, Dns, Ssh, Quic, RandomTcp, RandomUdp, Count };
const char *const kKindNames[] = {"http", "tls1.3", "tls1.2",     "dns",
                                  "ssh",  "quic",   "random-tcp", "random-udp"};
struct Weight {
    Kind kind;
    uint32_t percent;
};
const Weight kMix[] = {{Kind::Http, 18},     {Kind::Tls13, 20},   {Kind::Tls12, 10},
                       {Kind::Dns, 22},      {Kind::Ssh, 5},      {Kind::Quic, 7},
                       {Kind::RandomTcp, 9}, {Kind::RandomUdp, 9}};

struct Flow {
    std::vector<Bytes> frames;
    size_t next = 0;
};

struct Options {
    uint64_t flows = 20000;
    uint64_t seed = 1;
    uint32_t concurrency = 64;
    std::string out = "bench.pcap";
};

Kind pick_kind(Rng &r) {
    uint32_t x = r.below(100);
    for (const auto &w : kMix) {
        if (x < w.percent) return w.kind;
        x -= w.percent;
    }
    return Kind::RandomUdp;
}

// Random high ports avoid the well-known and registered ones nDPI may guess by.
uint16_t random_port(Rng &r) {
    return static_cast<uint16_t>(r.range(20000, 29999));
}

Flow make_flow(const Options &o, uint64_t i, Kind kind) {
    Rng r(o.seed * 0x100000001b3ull ^ (i + 1) * 0x9e3779b97f4a7c15ull);
    const uint32_t n_hosts = static_cast<uint32_t>(std::max<uint64_t>(100, o.flows / 4));
    Endpoints e;
    e.v6 = r.chance(10);
    const uint32_t client = static_cast<uint32_t>((i + o.seed) % kClients);
    e.cip = client_addr(e.v6, client);
    // Unique per flow: j -> j * 9973 mod 28000 is a bijection, so (client, port) does not
    // repeat below 28,000,000 flows.
    e.cport = static_cast<uint16_t>(32768 + ((i / kClients) * 9973 + o.seed) % 28000);
    e.cmac = {
        0x02, 0x00, 0x0a, 0x01, static_cast<uint8_t>(client >> 8), static_cast<uint8_t>(client)};
    e.gwmac = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x01};
    const Name host = pick_name(r, n_hosts);
    e.sip = server_addr(e.v6, host.id);
    const bool tcp = kind != Kind::Dns && kind != Kind::Quic && kind != Kind::RandomUdp;
    switch (kind) {
    case Kind::Http: {
        const uint16_t ports[] = {80, 80, 80, 80, 80, 80, 80, 8080, 8080, 8000};
        e.sport = r.pick(ports);
        break;
    }
    case Kind::Tls13:
    case Kind::Tls12: e.sport = r.chance(85) ? 443 : 8443; break;
    case Kind::Dns:
        e.sip = resolver_addr(e.v6, r.below(4));
        e.sport = 53;
        break;
    case Kind::Ssh: e.sport = r.chance(80) ? 22 : 2222; break;
    case Kind::Quic: e.sport = 443; break;
    default:
        e.sport = random_port(r);
        e.sip = server_addr(e.v6, 200000 + r.below(50000));
        break;
    }
    Conversation c(e, tcp, r);
    switch (kind) {
    case Kind::Http: http_flow(c, r, host); break;
    case Kind::Tls13: tls_flow(c, r, host, true); break;
    case Kind::Tls12: tls_flow(c, r, host, false); break;
    case Kind::Dns: dns_flow(c, r, host, e.v6); break;
    case Kind::Ssh: ssh_flow(c, r); break;
    case Kind::Quic: quic_flow(c, r, host); break;
    case Kind::RandomTcp: random_flow(c, r, true); break;
    default: random_flow(c, r, false); break;
    }
    Flow f;
    f.frames = std::move(c.frames);
    return f;
}

class PcapWriter {
public:
    explicit PcapWriter(FILE *f) : f_(f) {
        Bytes h;
        put32le(h, 0xa1b2c3d4); // microsecond timestamps
        put16le(h, 2), put16le(h, 4);
        put32le(h, 0), put32le(h, 0);
        put32le(h, 65535); // snaplen
        put32le(h, 1);     // LINKTYPE_ETHERNET
        write(h);
    }
    void packet(uint64_t ts_us, const Bytes &frame) {
        Bytes h;
        put32le(h, static_cast<uint32_t>(ts_us / 1000000));
        put32le(h, static_cast<uint32_t>(ts_us % 1000000));
        put32le(h, static_cast<uint32_t>(frame.size()));
        put32le(h, static_cast<uint32_t>(frame.size()));
        write(h);
        write(frame);
        bytes_ += frame.size();
    }
    bool ok() const { return ok_; }
    uint64_t bytes() const { return bytes_; }

private:
    static void put16le(Bytes &b, uint16_t v) {
        b.push_back(static_cast<uint8_t>(v));
        b.push_back(static_cast<uint8_t>(v >> 8));
    }
    static void put32le(Bytes &b, uint32_t v) {
        put16le(b, static_cast<uint16_t>(v));
        put16le(b, static_cast<uint16_t>(v >> 16));
    }
    void write(const Bytes &b) {
        if (std::fwrite(b.data(), 1, b.size(), f_) != b.size()) ok_ = false;
    }
    FILE *f_;
    bool ok_ = true;
    uint64_t bytes_ = 0;
};

[[noreturn]] void usage(int code) {
    std::fputs("usage: pl-gen-pcap [--flows N] [--seed S] [--out FILE] [--concurrency W]\n"
               "Writes a deterministic multi-protocol pcap (Ethernet) for the dissection "
               "benchmark.\n",
               code ? stderr : stdout);
    std::exit(code);
}

uint64_t number(const char *opt, const char *v) {
    char *end = nullptr;
    errno = 0;
    unsigned long long n = v ? std::strtoull(v, &end, 10) : 0;
    if (!v || errno || end == v || *end) {
        std::fprintf(stderr, "pl-gen-pcap: %s needs a number\n", opt);
        usage(2);
    }
    return n;
}

} // namespace

int main(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--flows") {
            o.flows = number("--flows", v), ++i;
        } else if (a == "--seed") {
            o.seed = number("--seed", v), ++i;
        } else if (a == "--concurrency") {
            o.concurrency = static_cast<uint32_t>(number("--concurrency", v)), ++i;
        } else if (a == "--out") {
            if (!v) usage(2);
            o.out = v, ++i;
        } else if (a == "-h" || a == "--help") {
            usage(0);
        } else {
            std::fprintf(stderr, "pl-gen-pcap: unexpected argument '%s'\n", a.c_str());
            usage(2);
        }
    }
    if (o.flows == 0 || o.concurrency == 0) {
        std::fputs("pl-gen-pcap: --flows and --concurrency must be at least 1\n", stderr);
        return 2;
    }
    if (!gcry_check_version(GCRYPT_VERSION)) {
        std::fputs("pl-gen-pcap: libgcrypt version mismatch\n", stderr);
        return 1;
    }
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);

    FILE *f = std::fopen(o.out.c_str(), "wb");
    if (!f) {
        std::fprintf(stderr, "pl-gen-pcap: cannot write %s: %s\n", o.out.c_str(),
                     std::strerror(errno));
        return 1;
    }
    static char buf[1 << 20];
    std::setvbuf(f, buf, _IOFBF, sizeof(buf));
    PcapWriter w(f);

    Rng sched(o.seed ^ 0x5bd1e995u);
    std::vector<Flow> open;
    std::array<uint64_t, static_cast<size_t>(Kind::Count)> per_kind{};
    uint64_t started = 0, packets = 0;
    uint64_t ts_us = 1709251200ull * 1000000; // 2024-03-01T00:00:00Z
    while (started < o.flows || !open.empty()) {
        while (open.size() < o.concurrency && started < o.flows) {
            const Kind k = pick_kind(sched);
            ++per_kind[static_cast<size_t>(k)];
            open.push_back(make_flow(o, started++, k));
        }
        const size_t at = sched.below(static_cast<uint32_t>(open.size()));
        Flow &fl = open[at];
        ts_us += sched.range(1, 120);
        w.packet(ts_us, fl.frames[fl.next++]);
        ++packets;
        if (fl.next == fl.frames.size()) {
            std::swap(open[at], open.back());
            open.pop_back();
        }
    }
    const bool ok = w.ok() && std::fclose(f) == 0;
    if (!ok) {
        std::fprintf(stderr, "pl-gen-pcap: writing %s failed\n", o.out.c_str());
        return 1;
    }
    std::printf("pl-gen-pcap: wrote %s: %llu packets, %llu flows, %llu bytes;", o.out.c_str(),
                static_cast<unsigned long long>(packets), static_cast<unsigned long long>(o.flows),
                static_cast<unsigned long long>(w.bytes()));
    for (size_t k = 0; k < per_kind.size(); ++k)
        std::printf(" %s=%llu", kKindNames[k], static_cast<unsigned long long>(per_kind[k]));
    std::printf("\n");
    return 0;
}
