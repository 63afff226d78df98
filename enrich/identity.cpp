// identity.cpp - see identity.h.
#include "enrich/identity.h"

#include "enrich/kernel_strings.h"

namespace policer::enrich {

ProcessInfo process_from_snapshot(const ProcSnapshot &s) {
    ProcessInfo p;
    p.tgid = s.tgid;
    p.ppid = s.ppid;
    p.start_ns = s.start_ns;
    p.start_exact = false;
    p.uid = s.ids.uid;
    p.gid = s.ids.gid;
    p.euid = s.ids.euid;
    p.comm = s.comm;
    p.exe = s.exe;
    p.args = s.args;
    p.exe_ino = s.exe_ino;
    p.exe_dev = s.exe_dev;
    return p;
}

Enricher::Enricher(ProcessTable &procs, UserNames &names, CgroupPaths &cgroups,
                   const ProcReader &proc)
    : procs_(procs), names_(names), cgroups_(cgroups), proc_(proc) {}

const ProcessInfo *Enricher::process(uint32_t tgid, uint64_t start_ns) {
    if (const ProcessInfo *p = procs_.find(tgid, start_ns)) return p;
    // Not seen by the probes (its exec event was lost): /proc, if the pid is still that
    // process. Never argv here: reading another process's memory can be made to block.
    auto snap = proc_.read(tgid, false);
    if (!snap || snap->start_ns / proc_.tick_ns() != start_ns / proc_.tick_ns()) return nullptr;
    procs_.upsert(process_from_snapshot(*snap));
    return procs_.find(tgid, start_ns);
}

Identity Enricher::resolve(const pl_ident &id) {
    Identity out;
    out.raw = id;
    out.comm = bounded_cstr(id.comm, sizeof(id.comm));
    if (id.flags & PL_IDENT_NO_UID)
        out.quality = IdentityQuality::Unknown;
    else if (id.flags & PL_IDENT_NO_TASK)
        out.quality = IdentityQuality::Partial;
    else if (id.flags & PL_IDENT_LISTENER)
        out.quality = IdentityQuality::Listener;
    if (out.quality == IdentityQuality::Unknown) return out;

    if (!(id.flags & PL_IDENT_NO_TASK) && id.tgid != 0) {
        if (const ProcessInfo *p = process(id.tgid, id.start_ns)) {
            // The table's image must be the one the kernel's process map names; if they
            // differ, an exec event was lost and the table still has the previous program.
            const bool kernel_knows = id.exe_ino != 0;
            const bool same = p->exe_ino == id.exe_ino && p->exe_dev == id.exe_dev;
            if (!kernel_knows || same) {
                out.exe = p->exe;
                out.args = p->args;
                out.exe_verified = kernel_knows && same;
            }
        }
        out.parent_pid = id.ppid;
        if (const ProcessInfo *parent = procs_.find(id.ppid, id.parent_start_ns)) {
            out.parent_comm = parent->comm;
            out.parent_exe = parent->exe;
        }
    }

    out.user_name = names_.user(id.uid);
    out.effective_user_name = id.euid == id.uid ? out.user_name : names_.user(id.euid);
    if (id.gid != static_cast<uint32_t>(-1)) out.group_name = names_.group(id.gid);

    out.cgroup_path = cgroups_.resolve(id.cgroup_id);
    if (out.cgroup_path) {
        out.workload = parse_cgroup_path(*out.cgroup_path);
        if (out.workload.container)
            out.container_owner = cgroups_.owner(out.workload.container->cgroup);
        if (!out.workload.systemd_unit.empty())
            out.unit_owner = cgroups_.owner(out.workload.unit_cgroup);
    }
    return out;
}

} // namespace policer::enrich
