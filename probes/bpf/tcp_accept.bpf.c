/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tcp_accept.bpf.c - names the process that accept()s an inbound TCP connection. The
 * handshake completes in softirq, where only the listener's identity is known; a pre-forked
 * server (nginx workers, a root master with unprivileged children) accepts in another process
 * with another uid. On return from accept(2)/accept4(2) we are in that process: find the new
 * socket through the fd table, and if it is a flow awaiting its acceptor, report who it is.
 */
#include "common.bpf.h"

static __always_inline int pl_on_accept(long fd) {
    if (fd < 0) return 0;

    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if ((unsigned long)fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *file = 0;
    if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) < 0 || !file) return 0;
    struct socket *sock = BPF_CORE_READ(file, private_data);
    __u64 cookie = BPF_CORE_READ(sock, sk, __sk_common.skc_cookie.counter);
    if (cookie == 0) return 0;

    /* Whoever deletes the entry reports: never both this and a concurrent FLOW_END. */
    if (bpf_map_delete_elem(&pl_pending_accept, &cookie) != 0) {
        pl_count(PL_CNT_ACCEPT_MISS);
        return 0;
    }

    struct pl_flow_event *e = pl_reserve(sizeof(*e), PL_EV_FLOW_ACCEPT);
    if (!e) return 0;
    __builtin_memset((void *)e + sizeof(e->hdr), 0, sizeof(*e) - sizeof(e->hdr));
    e->cookie = cookie;
    pl_ident_from_current(&e->ident);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int pl_accept4(struct trace_event_raw_sys_exit *ctx) {
    return pl_on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int pl_accept(struct trace_event_raw_sys_exit *ctx) {
    return pl_on_accept(ctx->ret);
}
