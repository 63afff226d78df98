/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * enforce_maps.bpf.c - holds the single definition of the maps the enforcement programs share
 * (declared in enforce_common.bpf.h) and the license of the linked object.
 */
#define PL_DEFINE_ENF_MAPS
#include "enforce_common.bpf.h"

char LICENSE[] SEC("license") = "GPL";
