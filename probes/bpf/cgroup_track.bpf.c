/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cgroup_track.bpf.c - cgroup v2 directories as they are made and removed, with their paths,
 * so a container that lives for a second is still named by its cgroup path.
 */
#include "common.bpf.h"

static __always_inline int pl_cgroup_event(struct cgroup *cgrp, const char *path, __u32 type) {
    /* Hierarchy 0 is the unified (v2) hierarchy; v1 controllers are not flows' cgroups. */
    if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0) return 0;

    struct pl_cgroup_event *e = pl_reserve(sizeof(*e), type);
    if (!e) return 0;
    e->cgroup_id = BPF_CORE_READ(cgrp, kn, id);
    long n = bpf_probe_read_kernel_str(e->path, sizeof(e->path), path);
    e->path_len = n > 0 ? n - 1 : 0;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(pl_cgroup_mkdir, struct cgroup *cgrp, const char *path) {
    return pl_cgroup_event(cgrp, path, PL_EV_CGROUP_MKDIR);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(pl_cgroup_rmdir, struct cgroup *cgrp, const char *path) {
    return pl_cgroup_event(cgrp, path, PL_EV_CGROUP_RMDIR);
}
