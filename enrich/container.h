// container.h - names the container (or systemd unit) behind a cgroup v2 path, from the
// path alone: every runtime encodes the container id there, each in its own way.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace policer::enrich {

struct ContainerRef {
    std::string runtime; // "docker", "containerd", "cri-o", "podman"
    std::string id;      // the full container id (64 lowercase hex digits)
    std::string pod_uid; // Kubernetes pod UID in its canonical dashed form, when the path has one
    std::string cgroup;  // the container's own cgroup, a prefix of the parsed path
};

// What a cgroup path says about the workload inside it.
struct CgroupIdentity {
    std::optional<ContainerRef> container;
    // The innermost .service or .scope unit, verbatim (systemd escapes such as \x2d kept), e.g.
    // "nginx.service"; empty when there is none. Inside a container it is the innermost unit at or
    // above the container's cgroup (usually the container's own scope, "docker-<id>.scope"):
    // units a container creates for itself are not reported.
    std::string systemd_unit;
    std::string unit_cgroup; // the unit's own cgroup, a prefix of the parsed path
};

// A path names a container or unit, but anyone with a delegated cgroup subtree (every systemd
// user session) can make a directory called docker-<id>.scope or sshd.service. What makes the
// name believable is who owns the directory: runtimes and systemd create theirs as root. See
// Enricher, which checks it.

// Parses a path relative to the cgroup v2 root ("/system.slice/docker-<id>.scope"), as the
// cgroup_mkdir tracepoint and /proc/PID/cgroup (after "0::") show it. Never throws; text that
// matches no known layout yields an empty CgroupIdentity. When containers are nested (docker in
// docker, a kind node), the outermost one is reported: the one the host's runtime made. The
// recognised layouts are listed in container.cpp.
CgroupIdentity parse_cgroup_path(std::string_view path);

} // namespace policer::enrich
