// l7_ecs.cpp - see l7_ecs.h.
#include "policer/l7/l7_ecs.h"

namespace policer::l7 {
namespace {

using Json = nlohmann::ordered_json;

// "10.0.0.2:8080/index.html?q" -> "/index.html?q"
std::string url_path(const std::string &url) {
    size_t slash = url.find('/');
    return slash == std::string::npos ? std::string() : url.substr(slash);
}

void set_if(Json &j, const char *key, const std::string &v) {
    if (!v.empty()) j[key] = v;
}

} // namespace

void add_l7_fields(Json &doc, const L7Info &info) {
    const std::string proto = info.network_protocol();
    if (!proto.empty()) doc["network"]["protocol"] = proto;

    Json l7;
    l7["protocol"] = info.protocol;
    set_if(l7, "master", info.master);
    set_if(l7, "application", info.application);
    set_if(l7, "category", info.category);
    set_if(l7, "host", info.host);
    l7["classified"] = info.classified;
    if (info.guessed) l7["guessed"] = true;
    l7["packets_inspected"] = info.packets;
    if (!info.risks.empty()) l7["risks"] = info.risks;
    doc["policer"]["l7"] = l7;

    if (info.http) {
        const HttpInfo &h = *info.http;
        if (!h.method.empty()) doc["http"]["request"]["method"] = h.method;
        if (h.status_code) doc["http"]["response"]["status_code"] = h.status_code;
        if (!h.url.empty()) {
            doc["url"]["original"] = h.url;
            set_if(doc["url"], "path", url_path(h.url));
        }
        if (!info.host.empty()) doc["url"]["domain"] = info.host;
        if (!h.user_agent.empty()) doc["user_agent"]["original"] = h.user_agent;
    }
    if (info.tls) {
        const TlsInfo &t = *info.tls;
        Json tls;
        set_if(tls, "version", t.version);
        if (!t.version.empty())
            tls["version_protocol"] = t.version.rfind("DTLS", 0) == 0 ? "dtls" : "tls";
        Json client, server;
        set_if(client, "server_name", t.server_name);
        set_if(client, "ja3", t.ja3);
        set_if(server, "ja3s", t.ja3s);
        if (!t.cert_sha1.empty()) server["hash"]["sha1"] = t.cert_sha1;
        set_if(server, "issuer", t.issuer);
        set_if(server, "subject", t.subject);
        if (!client.empty()) tls["client"] = client;
        if (!server.empty()) tls["server"] = server;
        if (!tls.empty()) doc["tls"] = tls;
        if (!t.alpn.empty()) doc["policer"]["tls"]["alpn"] = t.alpn;
    }
    if (info.dns) {
        const DnsInfo &d = *info.dns;
        Json dns;
        if (!d.query.empty()) dns["question"]["name"] = d.query;
        if (!d.query_type.empty()) dns["question"]["type"] = d.query_type;
        set_if(dns, "response_code", d.response_code);
        if (!d.answers.empty()) {
            Json answers = Json::array(), resolved = Json::array();
            for (const auto &a : d.answers) {
                answers.push_back(
                    {{"name", a.name}, {"type", a.type}, {"ttl", a.ttl}, {"data", a.data}});
                if (a.type == "A" || a.type == "AAAA") resolved.push_back(a.data);
            }
            dns["answers"] = answers;
            if (!resolved.empty()) dns["resolved_ip"] = resolved;
        }
        if (!dns.empty()) doc["dns"] = dns;
    }
    if (info.ssh) {
        const SshInfo &s = *info.ssh;
        Json ssh;
        set_if(ssh, "client_software", s.client_software);
        set_if(ssh, "server_software", s.server_software);
        set_if(ssh, "hassh_client", s.hassh_client);
        set_if(ssh, "hassh_server", s.hassh_server);
        if (!ssh.empty()) doc["policer"]["ssh"] = ssh;
    }
}

} // namespace policer::l7
