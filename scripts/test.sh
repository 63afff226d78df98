#!/usr/bin/env bash
# Set-up command 2 of 2: installs what is missing, builds, and runs every test through ctest:
# unit tests, and integration tests that load the probes into this kernel and push real
# traffic through network namespaces. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: the kernel tests load eBPF programs and must run as root (try: sudo $0)" >&2
    exit 1
fi
./scripts/deps.sh
./scripts/build.sh
ctest --test-dir "${POLICER_BUILD_DIR:-build}" --output-on-failure "$@"
