// l7_info.h - what L7 dissection learned about a flow, in policer's own terms (no nDPI type
// appears outside dpi_engine.cpp, so a newer nDPI is a change to one file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace policer::l7 {

struct HttpInfo {
    std::string method; // "GET"
    std::string url;    // as nDPI reports it: host[:port]/path
    std::string user_agent;
    uint16_t status_code = 0; // 0: no response seen
};

struct TlsInfo {
    std::string version;     // "TLSv1.3"
    std::string server_name; // SNI
    std::string alpn;        // client's ALPN list, comma separated
    std::string ja3, ja3s;
    std::string cert_sha1; // server certificate fingerprint, hex
    std::string issuer, subject;
};

struct DnsAnswer {
    std::string name;
    std::string type; // "A", "AAAA", "CNAME"
    uint32_t ttl = 0;
    std::string data; // address, or target name for CNAME
};

struct DnsInfo {
    std::string query;
    std::string query_type;    // "A", "AAAA", ...
    std::string response_code; // "NOERROR", "NXDOMAIN", ... ("" before a response)
    std::vector<DnsAnswer> answers;
};

struct SshInfo {
    std::string client_software, server_software; // banners, "SSH-2.0-OpenSSH_9.2p1 ..."
    std::string hassh_client, hassh_server;
};

struct L7Info {
    // Outcome of dissection.
    bool classified = false; // identified from payload
    bool guessed = false;    // not identified; protocol guessed from ports
    bool done = false;       // dissection over (nothing more to learn, or gave up)

    std::string protocol;    // nDPI's name, e.g. "TLS.Google", "HTTP", "DNS"
    std::string master;      // "TLS" in "TLS.Google"; "" when there is no master
    std::string application; // "Google" in "TLS.Google"; equals the protocol otherwise
    std::string category;    // "Web", "Network", ...
    std::string host;        // HTTP Host, TLS SNI, or DNS query name
    std::vector<std::string> risks;
    uint32_t packets = 0; // packets inspected

    std::optional<HttpInfo> http;
    std::optional<TlsInfo> tls;
    std::optional<DnsInfo> dns;
    std::optional<SshInfo> ssh;

    // ECS network.protocol: the application-layer protocol, lowercase ("tls", "http").
    std::string network_protocol() const;
};

} // namespace policer::l7
