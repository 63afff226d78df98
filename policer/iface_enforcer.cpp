// iface_enforcer.cpp - TC and XDP attachments following the configuration and the links.
#include "policer/iface_enforcer.h"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace policer::daemon {
namespace {

bool is_pattern(const std::string &p) {
    return p.find_first_of("*?[") != std::string::npos;
}

bool any_matches(const std::vector<std::string> &patterns, const std::string &name) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string &p) { return iface_matches(p, name); });
}

bool named_explicitly(const std::vector<std::string> &patterns, const std::string &name) {
    return std::find(patterns.begin(), patterns.end(), name) != patterns.end();
}

const char *mode_name(probes::XdpMode m) {
    return m == probes::XdpMode::Native ? "native" : "generic";
}

} // namespace

bool iface_matches(const std::string &pattern, const std::string &name) {
    if (!is_pattern(pattern)) return pattern == name;
    return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

IfaceEnforcer::IfaceEnforcer(IfaceConfig cfg, IfacePrograms progs, IfaceWatch watch)
    : cfg_(std::move(cfg)), progs_(progs), watch_(std::move(watch)) {}

bool IfaceEnforcer::wants_tc(const LinkChange &l) const {
    if (l.name.empty() || l.name == "lo") return false; // loopback traffic has its sockets
    return any_matches(cfg_.tc, l.name) || (cfg_.veths && l.kind == "veth");
}

bool IfaceEnforcer::wants_xdp(const LinkChange &l) const {
    if (l.name.empty() || l.name == "lo") return false;
    return any_matches(cfg_.xdp, l.name);
}

Result<std::unique_ptr<IfaceEnforcer>> IfaceEnforcer::start(IfaceConfig cfg, IfacePrograms progs) {
    // The watch first, then the listing: a link created in between is seen at least once.
    auto watch = IfaceWatch::open();
    if (!watch) return watch.error();
    std::unique_ptr<IfaceEnforcer> ie(new IfaceEnforcer(std::move(cfg), progs, std::move(*watch)));
    auto links = IfaceWatch::list_links();
    if (!links) return links.error();
    for (const auto &l : *links) {
        if (auto st = ie->present(l, true); !st) return st.error();
        // Left by an earlier policerd configured otherwise: no longer wanted here.
        if (!ie->wants_tc(l))
            for (bool ingress : {true, false})
                if (auto id = probes::tc_prog_id(l.ifindex, ingress);
                    id && probes::is_policer_prog(*id))
                    if (auto st = probes::detach_tc(l.ifindex, ingress); !st)
                        spdlog::warn("{}", st.error().message);
        if (!ie->wants_xdp(l))
            if (auto id = probes::xdp_prog_id(l.ifindex); id && probes::is_policer_prog(*id))
                if (auto st = probes::detach_xdp(l.ifindex); !st)
                    spdlog::warn("{}", st.error().message);
    }
    for (const auto &name : ie->cfg_.tc)
        if (!is_pattern(name) && std::none_of(links->begin(), links->end(),
                                              [&](const LinkChange &l) { return l.name == name; }))
            spdlog::warn("--tc-iface {}: no such interface yet; attaching when it appears", name);
    for (const auto &name : ie->cfg_.xdp)
        if (!is_pattern(name) && std::none_of(links->begin(), links->end(),
                                              [&](const LinkChange &l) { return l.name == name; }))
            spdlog::warn("--xdp-iface {}: no such interface yet; attaching when it appears", name);
    return ie;
}

Status IfaceEnforcer::present(const LinkChange &l, bool strict) {
    auto it = attached_.find(l.ifindex);
    if (it != attached_.end() && it->second.name != l.name) {
        // Renamed: what it wants may have changed; what is attached stays until detached.
        it->second.name = l.name;
    }
    Attached &a = attached_[l.ifindex];
    a.name = l.name;
    Status result = Ok{};
    auto fail = [&](const Status &st, bool explicit_name) {
        ++counters_.attach_errors;
        spdlog::warn("{}", st.error().message);
        if (strict && explicit_name && result) result = st.error();
    };
    if (!a.tc && wants_tc(l)) {
        auto st = probes::attach_tc(l.ifindex, true, progs_.tc_ingress);
        if (st) st = probes::attach_tc(l.ifindex, false, progs_.tc_egress);
        if (st) {
            a.tc = true;
            ++counters_.attached;
            spdlog::info("tc enforcement attached to {}", probes::iface_label(l.ifindex));
        } else {
            fail(st, named_explicitly(cfg_.tc, l.name));
        }
    }
    if (!a.xdp && wants_xdp(l)) {
        auto mode = probes::attach_xdp(l.ifindex, progs_.xdp);
        if (mode) {
            a.xdp = *mode;
            ++counters_.attached;
            spdlog::info("xdp enforcement attached to {} ({} mode)", probes::iface_label(l.ifindex),
                         mode_name(*mode));
        } else {
            fail(Status(mode.error()), named_explicitly(cfg_.xdp, l.name));
        }
    }
    if (!a.tc && !a.xdp) attached_.erase(l.ifindex);
    return result;
}

void IfaceEnforcer::resync() {
    ++counters_.links_resynced;
    auto links = IfaceWatch::list_links();
    if (!links) {
        spdlog::warn("cannot list network interfaces: {}", links.error().message);
        return;
    }
    std::map<int, Attached> still;
    for (const auto &l : *links) {
        auto it = attached_.find(l.ifindex);
        if (it != attached_.end()) still.emplace(it->first, std::move(it->second));
    }
    attached_ = std::move(still);
    for (const auto &l : *links)
        (void)present(l, false);
}

void IfaceEnforcer::on_readable() {
    for (const auto &change : watch_.drain()) {
        if (change.type == LinkChange::Type::Removed) {
            // Its attachments went with it.
            attached_.erase(change.ifindex);
            continue;
        }
        (void)present(change, false);
    }
    if (watch_.take_lost_events()) resync();
}

nlohmann::json IfaceEnforcer::status() const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto &[ifindex, a] : attached_) {
        nlohmann::json j = {{"iface", a.name}, {"ifindex", ifindex}, {"tc", a.tc}};
        j["xdp"] = a.xdp ? nlohmann::json(mode_name(*a.xdp)) : nlohmann::json(nullptr);
        out.push_back(std::move(j));
    }
    return out;
}

} // namespace policer::daemon
