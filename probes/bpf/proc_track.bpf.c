/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * proc_track.bpf.c - process lifecycle: exec (with executable path and argv captured in the
 * kernel, so a process that exits at once is still named), fork of new processes (threads
 * are filtered here) and exit of whole thread groups.
 */
#include "common.bpf.h"

/* Path depth walked for the executable; deeper paths are reported truncated. */
#define PL_PATH_MAX_DEPTH 40
/* A dentry name is at most NAME_MAX (255) bytes plus its NUL. */
#define PL_NAME_CHUNK 256

/* Scratch for the path walk. Keeping the write offset in map memory, not in a register, makes
 * it an unknown-but-bounded value to the verifier, so the loop's states converge instead of
 * being explored once per possible offset. */
struct pl_path_walk {
    __u32 off;
    __u32 flags;
    char buf[PL_EXE_LEN + PL_NAME_CHUNK]; /* a name is read whole, then kept if it fits */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pl_path_walk);
} pl_path_scratch SEC(".maps");

/* Appends one dentry name to w->buf if it fits whole; returns false when the path is full. */
static __always_inline bool pl_path_add(struct pl_path_walk *w, struct dentry *dentry) {
    __u32 off = *(volatile __u32 *)&w->off;
    if (off >= PL_EXE_LEN) {
        w->flags |= PL_EXE_TRUNCATED;
        return false;
    }
    const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
    long n = bpf_probe_read_kernel_str(&w->buf[off], PL_NAME_CHUNK, name);
    if (n <= 0) return false;
    if (off + n > PL_EXE_LEN) {
        w->flags |= PL_EXE_TRUNCATED;
        return false;
    }
    w->off = off + n;
    return true;
}

/*
 * Writes the components of `file`'s path into w->buf, leaf first, each NUL terminated,
 * crossing mount points up to the root of the task's mount namespace. A file on no mounted
 * filesystem (memfd, anonymous) has a single name and is flagged PL_EXE_PSEUDO.
 */
static __always_inline void pl_read_path(struct file *file, struct pl_path_walk *w) {
    struct dentry *dentry = BPF_CORE_READ(file, f_path.dentry);
    struct vfsmount *vfsmnt = BPF_CORE_READ(file, f_path.mnt);
    struct mount *mnt = container_of(vfsmnt, struct mount, mnt);
    int i;

    w->off = 0;
    w->flags = 0;
    for (i = 0; i < PL_PATH_MAX_DEPTH; i++) {
        struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
        struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

        if (dentry == mnt_root) {
            struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
            if (mnt == mnt_parent) return; /* the root of the mount namespace */
            dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
            mnt = mnt_parent;
            vfsmnt = (struct vfsmount *)((void *)mnt + bpf_core_field_offset(struct mount, mnt));
            continue;
        }
        if (dentry == parent) {
            /* A root that is no mount's root: a pseudo file, or a disconnected path. */
            pl_path_add(w, dentry);
            w->flags |= PL_EXE_PSEUDO;
            return;
        }
        if (!pl_path_add(w, dentry)) return;
        dentry = parent;
    }
    w->flags |= PL_EXE_TRUNCATED;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pl_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
    struct pl_exec_event *e = pl_reserve(sizeof(*e), PL_EV_EXEC);
    struct file *file = BPF_CORE_READ(bprm, file);
    struct pl_proc proc = {};
    __u32 zero = 0;

    proc.start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
    proc.exe_ino = BPF_CORE_READ(file, f_inode, i_ino);
    proc.exe_dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
    if (BPF_CORE_READ(file, f_inode, i_nlink) == 0) proc.exe_flags |= PL_EXE_UNLINKED;

    if (e) {
        e->exe_len = 0;
        struct pl_path_walk *w = bpf_map_lookup_elem(&pl_path_scratch, &zero);
        if (w) {
            pl_read_path(file, w);
            __u32 len = w->off;
            if (len > PL_EXE_LEN) len = PL_EXE_LEN;
            if (bpf_probe_read_kernel(e->exe, PL_EXE_LEN, w->buf) == 0) e->exe_len = len;
            proc.exe_flags |= w->flags;
            if (w->flags & PL_EXE_TRUNCATED) pl_count(PL_CNT_EXE_TRUNCATED);
        }
        struct mm_struct *mm = BPF_CORE_READ(task, mm);
        unsigned long start = BPF_CORE_READ(mm, arg_start);
        unsigned long end = BPF_CORE_READ(mm, arg_end);
        __u64 len = end > start ? end - start : 0;
        if (len >= PL_ARGS_LEN) {
            len = PL_ARGS_LEN - 1;
            proc.exe_flags |= PL_EXE_ARGS_TRUNCATED;
        }
        len &= PL_ARGS_LEN - 1;
        if (bpf_probe_read_user(e->args, len, (void *)start) < 0) len = 0;
        e->args_len = len;
    }

    /* The process map holds the new image even when the event could not be queued. */
    __u32 tgid = BPF_CORE_READ(task, tgid);
    bpf_map_update_elem(&pl_procs, &tgid, &proc, BPF_ANY);

    if (e) {
        pl_ident_from_current(&e->ident);
        bpf_ringbuf_submit(e, 0);
    }
    return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pl_fork, struct task_struct *parent, struct task_struct *child) {
    /* New threads share the process: only new thread groups are processes. */
    if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid)) return 0;

    /* The child runs its parent's image until it execs. */
    __u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
    struct pl_proc *pp = bpf_map_lookup_elem(&pl_procs, &ptgid);
    if (pp) {
        struct pl_proc cp = *pp;
        cp.start_ns = BPF_CORE_READ(child, start_boottime);
        bpf_map_update_elem(&pl_procs, &ctgid, &cp, BPF_ANY);
    }

    struct pl_fork_event *e = pl_reserve(sizeof(*e), PL_EV_FORK);
    if (!e) return 0;
    pl_ident_from_task(&e->ident, child);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pl_exit, struct task_struct *task) {
    /* Fires once per thread; the process is gone when the last thread leaves. Reading
     * signal->live (not the tracepoint's group_dead argument) keeps older kernels working. */
    if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;

    __u32 tgid = BPF_CORE_READ(task, tgid);
    __u64 start = BPF_CORE_READ(task, group_leader, start_boottime);
    struct pl_proc *p = bpf_map_lookup_elem(&pl_procs, &tgid);
    if (p && p->start_ns == start) bpf_map_delete_elem(&pl_procs, &tgid);

    struct pl_exit_event *e = pl_reserve(sizeof(*e), PL_EV_EXIT);
    if (!e) return 0;
    e->tgid = tgid;
    e->start_ns = start;
    e->exit_code = BPF_CORE_READ(task, exit_code);
    bpf_ringbuf_submit(e, 0);
    return 0;
}
