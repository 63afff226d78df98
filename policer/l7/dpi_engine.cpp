// dpi_engine.cpp - nDPI (Debian's 4.2) behind policer's own types. Everything that depends on
// nDPI's structures and API lives in this file.
#include "policer/l7/dpi_engine.h"

#include "policer/l7/dns_message.h"

#include <ndpi/ndpi_api.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace policer::l7 {

class DpiFlow {
public:
    ndpi_flow_struct *flow = nullptr;
    ndpi_protocol last{};
    uint32_t packets = 0;
};

void DpiFlowDeleter::operator()(DpiFlow *f) const {
    if (!f) return;
    if (f->flow) ndpi_free_flow(f->flow); // frees the flow's own allocations, then the flow
    delete f;
}

struct DpiEngine::Module {
    ndpi_detection_module_struct *mod = nullptr;
    ~Module() {
        if (mod) ndpi_exit_detection_module(mod);
    }
};

namespace {

// A string from a fixed-size nDPI buffer that may lack its NUL.
template <size_t N>
std::string fixed(const char (&buf)[N]) {
    return std::string(buf, strnlen(buf, N));
}

std::string cstr(const char *s) {
    return s ? std::string(s) : std::string();
}

std::string hex(const uint8_t *p, size_t n) {
    static const char *d = "0123456789abcdef";
    bool any = false;
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        any = any || p[i];
        out += d[p[i] >> 4];
        out += d[p[i] & 15];
    }
    return any ? out : std::string();
}

bool is(const ndpi_protocol &p, uint16_t id) {
    return p.master_protocol == id || p.app_protocol == id;
}

} // namespace

DpiEngine::DpiEngine(std::unique_ptr<Module> m) : m_(std::move(m)) {}
DpiEngine::~DpiEngine() = default;

std::string DpiEngine::version() {
    return cstr(ndpi_revision());
}

Result<std::unique_ptr<DpiEngine>> DpiEngine::create() {
    if (ndpi_get_api_version() != NDPI_API_VERSION)
        return Error{"nDPI library API " + std::to_string(ndpi_get_api_version()) +
                     " does not match the headers policer was built with (" +
                     std::to_string(NDPI_API_VERSION) + ")"};
    auto m = std::make_unique<Module>();
    // Tor exit-node lists are loaded from the network by nothing here; skip them.
    m->mod = ndpi_init_detection_module(ndpi_dont_load_tor_hosts);
    if (!m->mod) return Error{"cannot initialise nDPI"};
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(m->mod, &all);
    ndpi_finalize_initialization(m->mod);
    return std::unique_ptr<DpiEngine>(new DpiEngine(std::move(m)));
}

DpiFlowPtr DpiEngine::new_flow() {
    DpiFlowPtr f(new DpiFlow);
    const size_t size = ndpi_detection_get_sizeof_ndpi_flow_struct();
    f->flow = static_cast<ndpi_flow_struct *>(ndpi_flow_malloc(size));
    if (!f->flow) return nullptr;
    std::memset(f->flow, 0, size);
    return f;
}

DpiProgress DpiEngine::process(DpiFlow &f, const uint8_t *ip, uint16_t len, uint64_t ts_ms) {
    ++f.packets;
    f.last = ndpi_detection_process_packet(m_->mod, f.flow, ip, len, ts_ms);
    if (f.last.app_protocol != NDPI_PROTOCOL_UNKNOWN &&
        !ndpi_extra_dissection_possible(m_->mod, f.flow))
        return DpiProgress::Done;
    return DpiProgress::Continue;
}

L7Info DpiEngine::describe(DpiFlow &f, bool give_up) {
    L7Info info;
    ndpi_protocol p = f.last;
    bool guessed = false;
    if (give_up) {
        uint8_t was_guessed = 0;
        if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN)
            p = ndpi_detection_giveup(m_->mod, f.flow, 1, &was_guessed);
        guessed = was_guessed != 0;
        info.done = true;
    }
    info.packets = f.packets;
    const ndpi_flow_struct *fl = f.flow;
    const bool known = p.app_protocol != NDPI_PROTOCOL_UNKNOWN;
    info.classified = known && !guessed;
    info.guessed = guessed;

    char name[64];
    info.protocol = cstr(ndpi_protocol2name(m_->mod, p, name, sizeof(name)));
    if (p.master_protocol != NDPI_PROTOCOL_UNKNOWN && p.master_protocol != p.app_protocol)
        info.master = cstr(ndpi_get_proto_name(m_->mod, p.master_protocol));
    info.application = cstr(ndpi_get_proto_name(m_->mod, p.app_protocol));
    info.category = cstr(ndpi_category_get_name(m_->mod, p.category));
    info.host = fixed(fl->host_server_name);

    for (int r = 0; r < NDPI_MAX_RISK; ++r)
        if (r != NDPI_NO_RISK && (fl->risk & (1ull << r)))
            info.risks.push_back(cstr(ndpi_risk2str(static_cast<ndpi_risk_enum>(r))));

    // protos is a union: read only the member of the detected protocol.
    if (is(p, NDPI_PROTOCOL_HTTP) || fl->http.url || fl->http.user_agent) {
        HttpInfo h;
        if (fl->http.method != NDPI_HTTP_METHOD_UNKNOWN)
            h.method = cstr(ndpi_http_method2str(fl->http.method));
        h.url = cstr(fl->http.url);
        h.user_agent = cstr(fl->http.user_agent);
        h.status_code = fl->http.response_status_code;
        info.http = h;
    }
    if (is(p, NDPI_PROTOCOL_TLS) || is(p, NDPI_PROTOCOL_QUIC) || is(p, NDPI_PROTOCOL_DTLS)) {
        const auto &t = fl->protos.tls_quic;
        TlsInfo tls;
        if (t.ssl_version) {
            char v[32];
            uint8_t unknown = 0;
            tls.version = cstr(ndpi_ssl_version2str(v, sizeof(v), t.ssl_version, &unknown));
        }
        tls.server_name = info.host;
        tls.alpn = cstr(t.alpn);
        tls.ja3 = fixed(t.ja3_client);
        tls.ja3s = fixed(t.ja3_server);
        tls.cert_sha1 = hex(t.sha1_certificate_fingerprint, sizeof(t.sha1_certificate_fingerprint));
        tls.issuer = cstr(t.issuerDN);
        tls.subject = cstr(t.subjectDN);
        info.tls = tls;
    }
    if (is(p, NDPI_PROTOCOL_DNS) || is(p, NDPI_PROTOCOL_MDNS) || is(p, NDPI_PROTOCOL_LLMNR)) {
        const auto &d = fl->protos.dns;
        DnsInfo dns;
        dns.query = info.host;
        if (d.query_type) dns.query_type = dns_type_name(d.query_type);
        if (!d.is_query || d.num_answers || d.reply_code)
            dns.response_code = dns_rcode_name(d.reply_code);
        info.dns = dns;
    }
    if (is(p, NDPI_PROTOCOL_SSH)) {
        const auto &s = fl->protos.ssh;
        SshInfo ssh;
        ssh.client_software = fixed(s.client_signature);
        ssh.server_software = fixed(s.server_signature);
        ssh.hassh_client = fixed(s.hassh_client);
        ssh.hassh_server = fixed(s.hassh_server);
        info.ssh = ssh;
        // nDPI puts the SSH banner in the host field; it is not a host name.
        info.host.clear();
    }
    return info;
}

} // namespace policer::l7
