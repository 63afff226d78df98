/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * probe_abi.h - the one definition of everything the BPF probes and policerd exchange:
 * ring-buffer event layouts, map keys and values, counter indexes.
 *
 * Included by the BPF programs (C, clang -target bpf) and by the C++ daemon. Only fixed-width
 * types, explicit padding, no pointers, so both sides agree on every byte. Every event starts
 * with struct pl_event_header; user space checks `type` and `size` before reading the rest.
 */
#ifndef POLICER_PROBE_ABI_H
#define POLICER_PROBE_ABI_H

#include <linux/types.h>

/* Address families and L4 protocols, as the kernel numbers them. */
#define PL_AF_INET 2
#define PL_AF_INET6 10
#define PL_IPPROTO_TCP 6
#define PL_IPPROTO_UDP 17

#define PL_COMM_LEN 16
/* Executable path, captured in the kernel at exec time as path components leaf first,
 * each NUL terminated ("curl\0bin\0usr\0"). User space reverses them. */
#define PL_EXE_LEN 512
/* Command line: the raw argv area of the new process image, NUL separated. */
#define PL_ARGS_LEN 1024
/* cgroup path relative to the cgroup v2 root, as the cgroup_mkdir tracepoint gives it. */
#define PL_CGROUP_PATH_LEN 512

enum pl_event_type {
    PL_EV_EXEC = 1,         /* struct pl_exec_event */
    PL_EV_FORK = 2,         /* struct pl_fork_event */
    PL_EV_EXIT = 3,         /* struct pl_exit_event */
    PL_EV_FLOW_NEW = 4,     /* struct pl_flow_event */
    PL_EV_FLOW_END = 5,     /* struct pl_flow_event */
    PL_EV_FLOW_ACCEPT = 6,  /* struct pl_flow_event: who accept()ed an inbound TCP flow */
    PL_EV_SOCK_CLOSE = 7,   /* struct pl_sock_close_event */
    PL_EV_CGROUP_MKDIR = 8, /* struct pl_cgroup_event */
    PL_EV_CGROUP_RMDIR = 9, /* struct pl_cgroup_event */
    PL_EV_SAMPLE = 10,      /* struct pl_sample_event, on the pl_samples ring */
    PL_EV_TYPE_MAX = 11,
};

struct pl_event_header {
    __u32 type;  /* enum pl_event_type */
    __u32 size;  /* sizeof the whole event struct, checked by user space */
    __u64 ts_ns; /* bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME */
};

/* Identity flags. */
#define PL_IDENT_KTHREAD (1u << 0)  /* captured in a kernel thread */
#define PL_IDENT_NO_TASK (1u << 1)  /* no process context: only the socket's owner is known */
#define PL_IDENT_LISTENER (1u << 2) /* identity of the listening socket, not the acceptor */
#define PL_IDENT_NO_UID (1u << 3)   /* not even the owner: uid, gid and cgroup are unknown */

/* Executable flags (pl_proc.exe_flags, pl_ident.exe_flags). */
#define PL_EXE_TRUNCATED (1u << 0)      /* path did not fit: leading components missing */
#define PL_EXE_ARGS_TRUNCATED (1u << 1) /* argv longer than PL_ARGS_LEN */
#define PL_EXE_PSEUDO (1u << 2)         /* not on a mounted filesystem (memfd, anonymous) */
#define PL_EXE_UNLINKED (1u << 3)       /* the file had been deleted when it was executed */

/* Who: captured in process context, so it survives the process. */
struct pl_ident {
    __u64 cgroup_id;       /* cgroup v2 id (inode number of the cgroup directory) */
    __u64 start_ns;        /* process start, CLOCK_BOOTTIME ns: (tgid, start_ns) names a process */
    __u64 parent_start_ns; /* the parent's start: (ppid, parent_start_ns) names the parent */
    __u64 exe_ino;         /* executable's inode, from the kernel's process map; 0: unknown */
    __u32 exe_dev;         /* ... and device (kernel encoding, MKDEV(major, minor)) */
    __u32 exe_flags;       /* PL_EXE_* */
    __u32 pid;             /* thread id */
    __u32 tgid;            /* process id */
    __u32 ppid;            /* parent process id */
    __u32 uid;             /* real uid */
    __u32 gid;             /* real gid */
    __u32 euid;            /* effective uid */
    __u32 netns;           /* inode of the network namespace */
    __u32 flags;           /* PL_IDENT_* */
    char comm[PL_COMM_LEN];
};

/* The kernel's process map (tgid -> struct pl_proc): each process's executable, set at exec
 * and inherited at fork, so identity names the program even when exec events are lost. */
struct pl_proc {
    __u64 start_ns;
    __u64 exe_ino;
    __u32 exe_dev;
    __u32 exe_flags; /* PL_EXE_* */
};

enum pl_direction {
    PL_DIR_UNKNOWN = 0,
    PL_DIR_EGRESS = 1,  /* initiated by this host */
    PL_DIR_INGRESS = 2, /* initiated by the peer */
};

/* 5-tuple, oriented initiator -> responder: `src` is whoever opened the flow. */
struct pl_tuple {
    __u8 saddr[16]; /* IPv4 in the first 4 bytes, network order */
    __u8 daddr[16];
    __u16 sport; /* host order */
    __u16 dport;
    __u8 family;    /* AF_INET (2) or AF_INET6 (10) */
    __u8 proto;     /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
    __u8 direction; /* enum pl_direction */
    __u8 _pad;
};

/* Counters of a flow, from the local socket's point of view. Bytes are L4 payload bytes. */
struct pl_flow_counters {
    __u64 bytes_sent;
    __u64 bytes_received;
    __u64 packets_sent;
    __u64 packets_received;
};

/* One live TCP flow's counters, as the pl_tcp_live iterator writes them (docs/probes.md): read
 * on demand from the kernel's tcp_sock, so TCP flows cost nothing per packet. */
struct pl_tcp_live {
    __u64 cookie;
    struct pl_flow_counters counters;
};

/* Flow flags. */
#define PL_FLOW_ESTABLISHED (1u << 0) /* TCP reached ESTABLISHED */
#define PL_FLOW_IDLE (1u << 1)        /* UDP flow ended by idle timeout */
#define PL_FLOW_CLOSED (1u << 2)      /* socket closed */
#define PL_FLOW_AGGREGATE                                                                          \
    (1u << 3) /* UDP: every remote endpoint of the socket beyond its new-                          \
               * flow rate limit, counted together (remote = zeros) */

struct pl_flow_event {
    struct pl_event_header hdr;
    __u64 cookie; /* socket cookie: stable id of the local socket */
    struct pl_tuple tuple;
    struct pl_ident ident;
    struct pl_flow_counters counters; /* FLOW_END only */
    __u32 flags;                      /* PL_FLOW_* */
    __u32 _pad;
};

struct pl_sock_close_event {
    struct pl_event_header hdr;
    __u64 cookie;
};

struct pl_exec_event {
    struct pl_event_header hdr;
    struct pl_ident ident; /* ident.exe_* is the new image */
    __u16 exe_len;         /* bytes used in exe[] */
    __u16 args_len;        /* bytes used in args[] */
    __u32 _pad;
    char exe[PL_EXE_LEN];
    char args[PL_ARGS_LEN];
};

struct pl_fork_event {
    struct pl_event_header hdr;
    struct pl_ident ident; /* the child */
};

struct pl_exit_event {
    struct pl_event_header hdr;
    __u64 start_ns;
    __u32 tgid;
    __s32 exit_code;
};

struct pl_cgroup_event {
    struct pl_event_header hdr;
    __u64 cgroup_id;
    __u16 path_len; /* bytes used in path[], without the NUL */
    __u16 _pad[3];
    char path[PL_CGROUP_PATH_LEN];
};

/* Key of a flow in the kernel maps: a TCP flow is its socket (cookie, the rest zero); a UDP
 * flow is its socket and remote endpoint. */
struct pl_flow_key {
    __u64 cookie;
    __u8 raddr[16];
    __u16 rport; /* host order */
    __u8 family;
    __u8 _pad[5];
};

/* Payload sampling progress of one flow (kept in the socket's storage for TCP, in the UDP
 * flow's map value for UDP). */
struct pl_sample_state {
    __u16 sent;     /* samples taken of packets the local socket sent */
    __u16 received; /* ... and received */
    __u8 done;      /* 1: sampling over (both directions full, or classified) */
    __u8 _pad[3];
};

struct pl_udp_value {
    struct pl_flow_counters counters;
    __u64 first_ns;
    __u64 last_ns;
    struct pl_tuple tuple; /* oriented by the first packet seen */
    struct pl_sample_state sample;
};

/* Flow-state map (user space -> kernel), keyed by struct pl_flow_key. */
#define PL_FLOW_STATE_CLASSIFIED (1u << 0) /* dissection is over: stop sampling */

struct pl_flow_state {
    __u32 flags; /* PL_FLOW_STATE_* */
    __u32 _pad;
};

/* The first packets of a flow, from the IP header on, for L7 dissection in user space. */
#define PL_SAMPLE_MAX 2048 /* ceiling of bytes kept per packet (the configured cap is lower) */

struct pl_sample_event {
    struct pl_event_header hdr; /* size: offsetof(data) + cap_len */
    __u64 cookie;               /* the local socket */
    __u32 pkt_len;              /* length of the IP packet */
    __u16 cap_len;              /* bytes of it in data[] */
    __u8 egress;                /* 1: sent by the local socket; 0: received */
    __u8 proto;                 /* IPPROTO_TCP or IPPROTO_UDP */
    __u8 data[PL_SAMPLE_MAX];
};
#define PL_SAMPLE_HEADER_SIZE 32 /* offsetof(struct pl_sample_event, data) */

/* Per-socket state kept in socket local storage (freed with the socket). */
#define PL_SOCK_HAS_UDP_FLOWS (1u << 0)   /* sock_release must end this socket's UDP flows */
#define PL_SOCK_TCP_FLOW (1u << 1)        /* a TCP FLOW_NEW was emitted; FLOW_END is owed */
#define PL_SOCK_TCP_INGRESS (1u << 2)     /* that TCP flow is inbound */
#define PL_SOCK_TCP_ESTABLISHED (1u << 3) /* that TCP flow completed its handshake */

struct pl_sock_state {
    struct pl_ident ident;         /* creator, refreshed by the process that connects or sends */
    __u32 flags;                   /* PL_SOCK_* */
    __u32 udp_new_flows;           /* UDP flows created in the current one-second window */
    __u64 udp_window_ns;           /* start of that window */
    struct pl_sample_state sample; /* TCP payload sampling */
};

/* Indexes of the per-CPU counter array `pl_counters`. */
enum pl_counter {
    /* ring-buffer reservations that failed, by event type (index = enum pl_event_type) */
    PL_CNT_RB_DROP_BASE = 0,
    PL_CNT_UDP_PARSE_FAIL = PL_EV_TYPE_MAX, /* UDP packet whose headers could not be read */
    PL_CNT_UDP_FLOW_INSERT_FAIL,            /* UDP flow map update failed */
    PL_CNT_NO_SOCK_STATE,                   /* flow on a socket with no captured identity */
    PL_CNT_EXE_TRUNCATED,                   /* exe path longer than PL_EXE_LEN or too deep */
    PL_CNT_ACCEPT_MISS,                     /* accept() of a socket not seen established */
    PL_CNT_SAMPLE_PARSE_FAIL,               /* TCP packet whose headers could not be read */
    PL_CNT_SAMPLES,                         /* payload samples written */
    PL_CNT_UDP_AGGREGATED,                  /* UDP datagrams to a new endpoint, aggregated */
    PL_CNT_MAX,
};

/*
 * Rule tables: the tier-1 part of a compiled rule set, as the kernel evaluates it at connect,
 * sendmsg and first packet (rules/kernel_tables.h builds them; issue 5 loads them as they are).
 *
 * Every conjunction ("term") of every rule's condition has one bit, in decision order. Each
 * field the kernel knows is looked up in a table that gives a pl_rule_ref: the bitmap of terms
 * its value does not rule out (`match`), and the bitmap of terms it makes undecidable here
 * (`inexact`, when the value is not known yet, e.g. a cgroup policerd has not resolved). The
 * kernel ANDs the `match` bitmaps of the fields the rule set uses, takes the first set bit,
 * and decides that term's rule if some term of that rule is set and exact
 * (exact = header.exact_bm minus every `inexact`). Otherwise the verdict is deferred to
 * user space (the flow passes until then). No set bit: the default for the direction.
 *
 * Bitmaps live once each in an array indexed by id; ids 0 and 1 are the empty and full ones.
 */
#define PL_RULE_MAX_TERMS 16384 /* bits per bitmap: bounds the kernel's word loops */
#define PL_RULE_BM_WORDS (PL_RULE_MAX_TERMS / 64)
#define PL_RULE_BM_EMPTY 0 /* bitmap id: no term */
#define PL_RULE_BM_FULL 1  /* bitmap id: every term */

/* The fields the kernel looks up (one table slot each). */
enum pl_rule_field {
    PL_RF_CLASS = 0,  /* direction, l4.proto, ip.family: array index PL_RULE_CLASS(...) */
    PL_RF_USER_ID,    /* ranges: uid */
    PL_RF_USER_NAME,  /* names: uid -> the user.name rules that name it */
    PL_RF_GROUP_ID,   /* ranges: gid */
    PL_RF_GROUP_NAME, /* names: gid */
    PL_RF_SRC_PORT,   /* ranges: port */
    PL_RF_DST_PORT,   /* ranges: port */
    PL_RF_SRC_IP4,    /* ranges: IPv4 address */
    PL_RF_DST_IP4,    /* ranges: IPv4 address */
    PL_RF_SRC_IP6,    /* ranges: IPv6 address */
    PL_RF_DST_IP6,    /* ranges: IPv6 address */
    PL_RF_SRC_DOMAIN, /* names: address learned from DNS answers */
    PL_RF_DST_DOMAIN, /* names: address learned from DNS answers */
    PL_RF_COMM,       /* names: the task's comm */
    PL_RF_EXE,        /* names: executable (device, inode) from pl_procs */
    PL_RF_CGROUP,     /* names: cgroup id -> cgroup.path and container.* of that cgroup */
    PL_RF_IFACE,      /* names: interface index (TC only; unknown at the socket hooks) */
    PL_RF_COUNT,
};

/* Index into the class table: direction (0 egress, 1 ingress), tcp/udp, ipv4/ipv6. */
#define PL_RULE_CLASS(ingress, udp, ipv6) (((ingress) << 2) | ((udp) << 1) | (ipv6))
#define PL_RULE_CLASSES 8

struct pl_rule_ref {
    __u32 match;   /* bitmap id: terms this value does not rule out */
    __u32 inexact; /* bitmap id: terms this value leaves undecidable (PL_RULE_BM_EMPTY: none) */
};

/* Range tables (uid, gid, ports, addresses) in one LPM trie. A field's entries partition its
 * key space, so the longest match is the one entry containing the value. `prefixlen` counts
 * the 32 bits of `field` plus the bits of `data` (values big-endian, left-aligned). */
struct pl_rule_range_key {
    __u32 prefixlen;
    __u32 field; /* enum pl_rule_field: always matched whole (every prefixlen >= 32) */
    __u8 data[16];
};

/* Name tables (exact keys) in one hash map. Unused bytes are zero. */
struct pl_rule_name_key {
    __u32 field;  /* enum pl_rule_field */
    __u32 family; /* PL_AF_* for domains; 0 otherwise */
    union {
        __u32 id; /* uid, gid, ifindex */
        __u64 cgroup_id;
        struct {
            __u64 dev;
            __u64 ino;
        } exe;
        char comm[PL_COMM_LEN];
        __u8 addr[16]; /* domains: IPv4 in the first 4 bytes */
    };
};

enum pl_rule_action_kind {
    PL_RA_ALLOW = 0,
    PL_RA_DENY,   /* drop: nothing leaves, the caller gets EPERM */
    PL_RA_REJECT, /* refuse: EPERM to a local caller, RST/ICMP to a peer */
    PL_RA_ALERT,  /* pass, and report */
    PL_RA_LIMIT,  /* token bucket per (rule, identity); excess dropped */
};

enum pl_rule_limit_per {
    PL_RL_PROCESS = 0,
    PL_RL_USER,
    PL_RL_CGROUP,
};

struct pl_rule_action {
    __u8 kind;  /* enum pl_rule_action_kind */
    __u8 audit; /* report as would-be verdict; enforce nothing */
    __u8 per;   /* enum pl_rule_limit_per */
    __u8 pad;
    __u32 rate;  /* tokens per second */
    __u32 burst; /* bucket size */
    __u32 rule;  /* index of the rule in decision order */
};

/* Term index -> its rule and the rule's terms (contiguous). */
struct pl_rule_term {
    __u32 rule;
    __u32 first_term;
    __u32 terms;
    __u32 pad;
};

struct pl_rule_header {
    __u32 generation;
    __u32 terms; /* bits in use */
    __u32 words; /* (terms + 63) / 64: the words the kernel ANDs */
    __u32 rules;
    __u32 used_fields; /* bit per enum pl_rule_field: a field no rule tests is not looked up */
    __u32 exact_bm;    /* bitmap id: terms whose every literal the kernel can decide */
    struct pl_rule_action default_egress;
    struct pl_rule_action default_ingress;
    /* For a key missing from the field's table (a value no rule names) */
    struct pl_rule_ref missing[PL_RF_COUNT];
    /* For a field the hook cannot know (e.g. the interface at connect) */
    struct pl_rule_ref unknown[PL_RF_COUNT];
};

/*
 * Enforcement (policer_enforce, pinned under <bpffs>/policer): the rule tables above in two
 * banks, a flow verdict map, token buckets and the events of what was refused.
 *
 * A rule set is written into the bank not in use, then `pl_enforce_state.generation` moves
 * to it: a program reads it once per decision, so it sees one generation whole.
 */
#define PL_RULE_BANKS 2

struct pl_enforce_state {
    /* Generation of the tables in force; their bank is generation & 1. 0: no rule set yet,
     * everything passes. One 32-bit word, so that a flip is a single store. */
    __u32 generation;
    __u32 _pad[3];
};

/* A flow's verdict (key: struct pl_flow_key; TCP: cookie only). Written by the kernel when it
 * decides at connect/sendmsg/first packet (origin KERNEL, cached per generation), and by
 * policerd for tier 2/3 verdicts (origin DAEMON). Consulted on every packet of the socket. */
enum pl_verdict_origin {
    PL_VO_KERNEL = 1,
    PL_VO_DAEMON = 2,
    PL_VO_MARK = 3, /* UDP, key {cookie} only: this socket has verdicts per remote endpoint */
};

#define PL_FV_EGRESS (1u << 0) /* UDP: the local socket sent first (replies are that flow) */

struct pl_flow_verdict {
    __u8 action; /* enum pl_rule_action_kind */
    __u8 audit;  /* would-be verdict: counted, nothing dropped */
    __u8 origin; /* enum pl_verdict_origin */
    __u8 per;    /* limit: enum pl_rule_limit_per */
    __u32 rule;  /* index in decision order of the generation */
    __u32 generation;
    __u32 rate;            /* limit: tokens per second */
    __u32 burst;           /* limit: bucket size */
    __u32 flags;           /* PL_FV_* */
    __u64 limit_id;        /* limit: the tgid, uid or cgroup id the bucket is per */
    __u64 packets_dropped; /* updated by the kernel */
    __u64 bytes_dropped;
};

/* Token bucket of a limit rule for one identity. Credit is kept in nanoseconds of rate:
 * a packet or connection costs 1e9 / rate ns; the bucket holds at most burst * that. */
struct pl_limit_key {
    __u32 rule;
    __u32 per;
    __u64 id;
    __u32 generation;
    __u32 _pad;
};

struct pl_limit_bucket {
    __u64 credit_ns;
    __u64 last_ns;
    __u64 passed;
    __u64 dropped;
};

/* Identity of a socket for enforcement (its own socket storage, so that enforcement does not
 * depend on the observation probes): set at socket creation and bind, copied to accepted
 * sockets. Inbound flows are judged with the identity of the socket that receives them. */
struct pl_enf_sock {
    __u64 cgroup_id;
    __u64 exe_dev;
    __u64 exe_ino;
    __u32 uid;
    __u32 gid;
    __u32 tgid;
    __u32 exe_known;
    char comm[PL_COMM_LEN];
};

/* Where a refusal (or, in audit, a would-be refusal) happened. */
enum pl_enforce_hook {
    PL_HOOK_CONNECT = 1, /* connect(2): the caller got EPERM */
    PL_HOOK_SENDMSG = 2, /* sendto/sendmsg with an address: EPERM */
    PL_HOOK_INGRESS = 3, /* first packet of an inbound flow, dropped */
    PL_HOOK_VERDICT = 4, /* a packet of a flow with a deny verdict, dropped */
    PL_HOOK_LIMIT = 5,   /* over a limit rule's rate, dropped */
    PL_HOOK_TC = 6,      /* TC on an interface */
    PL_HOOK_XDP = 7,     /* XDP on an uplink */
};

/* On the pl_enf_events ring: a connection or packet refused. Bounded by the ring: when full,
 * the refusal still happens and PL_ECNT_EVENT_DROPS counts the lost report. */
struct pl_deny_event {
    struct pl_event_header hdr; /* type PL_EV_DENY */
    __u64 cookie;
    struct pl_tuple tuple; /* initiator -> responder */
    __u64 cgroup_id;
    __u64 exe_dev;
    __u64 exe_ino;
    __u32 uid;
    __u32 gid;
    __u32 tgid;
    __u32 rule; /* UINT32_MAX: the default verdict */
    __u32 generation;
    __u8 action; /* enum pl_rule_action_kind */
    __u8 audit;  /* 1: would have been refused (audit); nothing was */
    __u8 hook;   /* enum pl_enforce_hook */
    __u8 exe_known;
    char comm[PL_COMM_LEN];
};
#define PL_EV_DENY 64 /* event type on pl_enf_events */

/* XDP source blocklist (LPM): inbound packets from these prefixes are dropped before the stack. */
struct pl_blocklist_key {
    __u32 prefixlen; /* 8 (family byte) + address bits */
    __u8 family;     /* PL_AF_INET or PL_AF_INET6 */
    __u8 addr[16];
    __u8 _pad[3];
};

/* Per-packet verdicts by 5-tuple, for TC and XDP, where there is no local socket. Key: the
 * tuple as a packet arriving from the peer carries it (saddr = peer). */
struct pl_tuple_key {
    __u8 saddr[16];
    __u8 daddr[16];
    __u16 sport; /* host order */
    __u16 dport;
    __u8 family;
    __u8 proto;
    __u8 _pad[2];
};

/* Per-CPU counters of the enforcement object (pl_enf_counters). */
enum pl_enforce_counter {
    PL_ECNT_DECISIONS = 0,    /* rule-table decisions made */
    PL_ECNT_CONNECT_DENIED,   /* connect(2) refused */
    PL_ECNT_SENDMSG_DENIED,   /* sendmsg(2) refused */
    PL_ECNT_INGRESS_DENIED,   /* inbound first packets dropped */
    PL_ECNT_VERDICT_DROPS,    /* packets dropped by a flow verdict */
    PL_ECNT_LIMIT_DROPS,      /* over a limit */
    PL_ECNT_AUDIT_WOULD_DENY, /* audit: would have refused */
    PL_ECNT_DEFERRED,         /* tier 2/3 rules first: passed until policerd decides */
    PL_ECNT_EVAL_ERRORS,      /* inconsistent tables (should stay 0): passed */
    PL_ECNT_EVENT_DROPS,      /* refusal reports lost (ring full) */
    PL_ECNT_TC_DROPS,         /* TC drops */
    PL_ECNT_TC_RESETS,        /* TC resets sent */
    PL_ECNT_XDP_DROPS,        /* XDP drops */
    PL_ECNT_MAX,
};

/* Both compilers must agree on every layout: checked where each side is compiled. */
#ifdef __cplusplus
#define PL_ABI_ASSERT(c, m) static_assert(c, m)
#else
#define PL_ABI_ASSERT(c, m) _Static_assert(c, m)
#endif
PL_ABI_ASSERT(sizeof(struct pl_event_header) == 16, "pl_event_header");
PL_ABI_ASSERT(sizeof(struct pl_ident) == 88, "pl_ident");
PL_ABI_ASSERT(sizeof(struct pl_tuple) == 40, "pl_tuple");
PL_ABI_ASSERT(sizeof(struct pl_flow_event) == 192, "pl_flow_event");
PL_ABI_ASSERT(sizeof(struct pl_tcp_live) == 40, "pl_tcp_live");
PL_ABI_ASSERT(sizeof(struct pl_exec_event) == 1648, "pl_exec_event");
PL_ABI_ASSERT(sizeof(struct pl_fork_event) == 104, "pl_fork_event");
PL_ABI_ASSERT(sizeof(struct pl_exit_event) == 32, "pl_exit_event");
PL_ABI_ASSERT(sizeof(struct pl_cgroup_event) == 544, "pl_cgroup_event");
PL_ABI_ASSERT(sizeof(struct pl_flow_key) == 32, "pl_flow_key");
PL_ABI_ASSERT(sizeof(struct pl_udp_value) == 96, "pl_udp_value");
PL_ABI_ASSERT(sizeof(struct pl_sock_state) == 112, "pl_sock_state");
PL_ABI_ASSERT(sizeof(struct pl_proc) == 24, "pl_proc");
PL_ABI_ASSERT(sizeof(struct pl_sample_event) == PL_SAMPLE_HEADER_SIZE + PL_SAMPLE_MAX,
              "pl_sample_event");
PL_ABI_ASSERT(sizeof(struct pl_rule_ref) == 8, "pl_rule_ref");
PL_ABI_ASSERT(sizeof(struct pl_rule_range_key) == 24, "pl_rule_range_key");
PL_ABI_ASSERT(sizeof(struct pl_rule_name_key) == 24, "pl_rule_name_key");
PL_ABI_ASSERT(sizeof(struct pl_rule_action) == 16, "pl_rule_action");
PL_ABI_ASSERT(sizeof(struct pl_rule_term) == 16, "pl_rule_term");
PL_ABI_ASSERT(sizeof(struct pl_rule_header) == 24 + 32 + 2 * 8 * PL_RF_COUNT, "pl_rule_header");

PL_ABI_ASSERT(sizeof(struct pl_enforce_state) == 16, "pl_enforce_state");
PL_ABI_ASSERT(sizeof(struct pl_flow_verdict) == 48, "pl_flow_verdict");
PL_ABI_ASSERT(sizeof(struct pl_limit_key) == 24, "pl_limit_key");
PL_ABI_ASSERT(sizeof(struct pl_limit_bucket) == 32, "pl_limit_bucket");
PL_ABI_ASSERT(sizeof(struct pl_enf_sock) == 56, "pl_enf_sock");
PL_ABI_ASSERT(sizeof(struct pl_deny_event) == 128, "pl_deny_event");
PL_ABI_ASSERT(sizeof(struct pl_blocklist_key) == 24, "pl_blocklist_key");
PL_ABI_ASSERT(sizeof(struct pl_tuple_key) == 40, "pl_tuple_key");

#endif /* POLICER_PROBE_ABI_H */
