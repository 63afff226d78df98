#!/usr/bin/env bash
# Set-up command 1 of 2: installs what is missing, builds, and runs policerd in the foreground,
# printing every flow on this host as one JSON line. Extra arguments go to policerd
# (see: scripts/run.sh --help). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: policerd loads eBPF programs and must run as root (try: sudo $0 $*)" >&2
    exit 1
fi
./scripts/deps.sh >&2
./scripts/build.sh >&2
# The shipped default policy: observes and alerts, blocks nothing (packaging/rules.d).
exec "${POLICER_BUILD_DIR:-build}/policer/policerd" --events-stdout --rules packaging/rules.d "$@"
