/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * maps.bpf.c - holds the single definition of every map the probes share (declared in
 * common.bpf.h) and the license of the linked object.
 */
#define PL_DEFINE_MAPS
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";
