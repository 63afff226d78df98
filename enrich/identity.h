// identity.h - a kernel identity (struct pl_ident, captured in process context) resolved to
// names: process image and command line, parent, user and group names, cgroup path,
// container or systemd unit.
#pragma once

#include "enrich/cgroup_paths.h"
#include "enrich/container.h"
#include "enrich/proc_reader.h"
#include "enrich/process_table.h"
#include "enrich/user_names.h"
#include "probes/probe_abi.h"

#include <optional>
#include <string>
#include <vector>

namespace policer::enrich {

// How much of an identity is known.
enum class IdentityQuality {
    Full,     // process captured in process context
    Listener, // identity of the listening socket; the acceptor was not seen
    Partial,  // no process context (socket older than policerd): owner uid and cgroup only
    Unknown,  // nothing: not even the socket's owner
};

struct Identity {
    pl_ident raw{};
    IdentityQuality quality = IdentityQuality::Full;
    std::string comm;
    std::string exe;               // "" when unknown
    bool exe_verified = false;     // exe is the image the kernel says the process runs
    std::vector<std::string> args; // empty when unknown
    std::string user_name, effective_user_name, group_name;
    uint32_t parent_pid = 0;
    std::string parent_comm, parent_exe;
    std::optional<std::string> cgroup_path;
    CgroupIdentity workload; // container and/or systemd unit
    // Owners of the container's and the unit's cgroup directories: root for the runtimes and
    // systemd; anything else means the name was chosen by that user (see container.h).
    std::optional<uint32_t> container_owner, unit_owner;
};

class Enricher {
public:
    Enricher(ProcessTable &procs, UserNames &names, CgroupPaths &cgroups, const ProcReader &proc);

    Identity resolve(const pl_ident &id);

private:
    // The process (tgid, start): from the table, else from /proc if it is still that process.
    const ProcessInfo *process(uint32_t tgid, uint64_t start_ns);

    ProcessTable &procs_;
    UserNames &names_;
    CgroupPaths &cgroups_;
    const ProcReader &proc_;
};

// Turns a /proc snapshot into a process table entry.
ProcessInfo process_from_snapshot(const ProcSnapshot &s);

} // namespace policer::enrich
