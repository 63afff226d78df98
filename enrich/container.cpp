// container.cpp - recognises container runtimes and systemd units in cgroup v2 paths.
//
// No runtime registers its containers anywhere the kernel can see; what each one does is name
// the cgroup it creates after the container id, following its own convention. These are the
// conventions matched here (<id> is the 64-hex container id, <uid> a Kubernetes pod UID):
//
//   docker, systemd driver       .../docker-<id>.scope      (also cri-dockerd in a pod slice)
//   docker, cgroupfs driver      .../docker/<id>
//   containerd CRI, systemd      .../kubepods-<qos>-pod<uid with
//   '_'>.slice/cri-containerd-<id>.scope containerd CRI, cgroupfs .../kubepods/<qos>/pod<uid>/<id>
//   CRI-O, systemd manager       .../kubepods-<qos>-pod<uid with '_'>.slice/crio-<id>.scope
//   CRI-O, cgroupfs manager      .../kubepods/<qos>/pod<uid>/crio-<id>
//   podman, systemd manager      .../libpod-<id>.scope      (machine.slice, or rootless user.slice)
//   podman, cgroupfs manager     .../libpod_parent/libpod-<id>
//
// where <qos> is "burstable" or "besteffort", and is absent (with its separator) for
// guaranteed pods. Everything is matched one path component at a time, in a single pass, so the
// cost is linear in the length of the path whatever it holds.
#include "enrich/container.h"

#include <cstddef>

namespace policer::enrich {
namespace {

constexpr std::size_t kIdLength = 64;

bool is_lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool is_lower_hex(std::string_view s) {
    for (char c : s) {
        if (!is_lower_hex(c)) return false;
    }
    return true;
}

// Every runtime here names containers by a 64-digit lowercase hex id (a sha256 for docker and
// podman, random for the CRI runtimes). Anything else - a short id, uppercase - is not one.
bool is_container_id(std::string_view s) {
    return s.size() == kIdLength && is_lower_hex(s);
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Cgroups systemd makes for processes belong to a service or a scope; slices only group them.
// The name is kept verbatim, systemd escapes (\x2d) included, as `systemctl status` prints it.
bool is_unit(std::string_view name) {
    for (std::string_view suffix : {std::string_view(".service"), std::string_view(".scope")}) {
        if (name.size() > suffix.size() && ends_with(name, suffix)) return true;
    }
    return false;
}

// Components of the form <prefix><id><suffix>. A systemd-managed runtime asks systemd for a
// transient scope named after the container; the same runtimes on cgroupfs make a plain
// directory with the same stem. The monitor processes next to the containers, CRI-O's
// "crio-conmon-<id>.scope" and podman's "libpod-conmon-<id>.scope" (or cgroupfs
// "crio-conmon-<id>"), are not containers: after the prefix they leave "conmon-<id>...", which
// is not an id, so no row matches them.
struct NamedLayout {
    std::string_view prefix;
    std::string_view suffix;
    std::string_view runtime;
};

constexpr NamedLayout kNamedLayouts[] = {
    {"docker-", ".scope", "docker"},             // dockerd --exec-opt native.cgroupdriver=systemd
    {"cri-containerd-", ".scope", "containerd"}, // containerd's CRI plugin, SystemdCgroup = true
    {"crio-", ".scope", "cri-o"},                // CRI-O, cgroup_manager = "systemd"
    {"crio-", "", "cri-o"},                      // CRI-O, cgroup_manager = "cgroupfs"
    {"libpod-", ".scope", "podman"},             // podman, cgroup_manager = "systemd"
    {"libpod-", "", "podman"},                   // podman, cgroup_manager = "cgroupfs"
};

// A container component: which runtime made it, and the id in its name.
struct Match {
    std::string_view runtime;
    std::string_view id;
};

bool match_named(std::string_view name, Match &match) {
    for (const NamedLayout &layout : kNamedLayouts) {
        if (name.size() != layout.prefix.size() + kIdLength + layout.suffix.size()) continue;
        if (!starts_with(name, layout.prefix) || !ends_with(name, layout.suffix)) continue;
        std::string_view id = name.substr(layout.prefix.size(), kIdLength);
        if (!is_container_id(id)) continue;
        match = {layout.runtime, id};
        return true;
    }
    return false;
}

// A pod UID as it appears in a cgroup name, still in the path's spelling.
struct PodUid {
    std::string_view text;
    char separator = '-';
};

// Kubelet writes the pod UID into the pod's cgroup name. API-server pods have a UUID
// (8-4-4-4-12 lowercase hex); in a systemd slice name, where '-' means nesting, kubelet
// spells its dashes as '_'. Static pods (from manifest files) get an md5 of the manifest
// instead: 32 hex digits, no dashes, which is the UID kubelet knows them by and is returned
// as is. `separator` is the character expected between the UUID's groups.
bool is_pod_uid(std::string_view s, char separator) {
    if (s.size() == 32) return is_lower_hex(s);
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_position ? s[i] != separator : !is_lower_hex(s[i])) return false;
    }
    return true;
}

std::string canonical_pod_uid(PodUid uid) {
    std::string out(uid.text);
    for (char &c : out) {
        if (c == uid.separator) c = '-';
    }
    return out;
}

// The systemd driver's pod slice: "kubepods-burstable-pod<uid>.slice", "kubepods-pod<uid>.slice"
// (guaranteed), or with kubelet's cgroup root prefixed ("kubelet-kubepods-...", as kind does).
// Slice names spell their ancestry with '-', so the pod is the part after the last '-'.
bool parse_pod_slice(std::string_view name, PodUid &uid) {
    constexpr std::string_view kSlice = ".slice";
    if (!ends_with(name, kSlice) || name.find("kubepods") == std::string_view::npos) return false;
    std::string_view stem = name.substr(0, name.size() - kSlice.size());
    std::size_t dash = stem.rfind('-');
    if (dash == std::string_view::npos) return false;
    std::string_view leaf = stem.substr(dash + 1);
    if (!starts_with(leaf, "pod") || !is_pod_uid(leaf.substr(3), '_')) return false;
    uid = {leaf.substr(3), '_'};
    return true;
}

// The cgroupfs driver's pod directory: "pod<uid>" under "kubepods" (or "kubepods/<qos>").
bool parse_pod_dir(std::string_view name, PodUid &uid) {
    if (!starts_with(name, "pod") || !is_pod_uid(name.substr(3), '-')) return false;
    uid = {name.substr(3), '-'};
    return true;
}

} // namespace

// Design notes.
//
// The OUTERMOST container component names the container. It is the one the host's runtime
// created; everything below it was created from inside the container (systemd's init.scope in a
// systemd container, podman's "container" leaf, docker-in-docker's "docker/<id>", a kind node's
// whole kubelet tree). Those inner names are chosen by whatever runs in the container, so a
// compromised container could name a sub-cgroup "docker-<another container's id>.scope"; taking
// the innermost match would let it pass its processes off as another container's. For the same
// reason systemd_unit is the innermost unit at or above that container component (usually the
// container's own scope): units a container's own systemd makes are not reported.
//
// A bare "<id>" directory is only a container where a runtime is known to make one: under
// "docker" (docker's cgroupfs driver, and docker-in-docker's inner daemon) or directly under a
// cgroupfs pod directory. The latter is reported as containerd: containerd's CRI plugin is what
// makes that layout on most clusters. cri-dockerd (docker behind kubelet) makes the same layout,
// and cannot be told apart from the path; CRI-O, which could have been, prefixes its cgroupfs
// directories with "crio-" and so is recognised by name. A bare id anywhere else (docker's
// cgroupfs driver with a custom --cgroup-parent) is not reported: nothing in the path says
// which runtime made it.
CgroupIdentity parse_cgroup_path(std::string_view path) {
    CgroupIdentity identity;
    std::string_view unit;    // innermost unit so far
    std::string_view parent;  // the previous non-empty component
    bool in_kubepods = false; // a "kubepods" component seen (cgroupfs driver)
    bool parent_is_pod_dir = false;
    PodUid pod;
    bool have_pod = false;

    std::size_t pos = 0;
    while (pos < path.size()) {
        std::size_t end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        std::string_view name = path.substr(pos, end - pos);
        pos = end + 1;
        if (name.empty()) continue; // leading, trailing or doubled '/'

        if (is_unit(name)) {
            unit = name;
            identity.unit_cgroup = std::string(path.substr(0, end));
        }

        Match match;
        bool found = match_named(name, match);
        if (!found && is_container_id(name)) {
            if (parent == "docker") {
                match = {"docker", name};
                found = true;
            } else if (parent_is_pod_dir) {
                match = {"containerd", name}; // or cri-dockerd: see the notes above
                found = true;
            }
        }
        if (found) {
            identity.container = ContainerRef{std::string(match.runtime), std::string(match.id),
                                              have_pod ? canonical_pod_uid(pod) : std::string(),
                                              std::string(path.substr(0, end))};
            break; // the outermost container wins: its insides are the container's own business
        }

        PodUid uid;
        parent_is_pod_dir = in_kubepods && parse_pod_dir(name, uid);
        if (parent_is_pod_dir || parse_pod_slice(name, uid)) {
            pod = uid;
            have_pod = true;
        }
        if (name == "kubepods") in_kubepods = true;
        parent = name;
    }

    identity.systemd_unit = std::string(unit);
    return identity;
}

} // namespace policer::enrich
