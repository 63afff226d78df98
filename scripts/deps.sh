#!/usr/bin/env bash
# Installs every package policer needs to build, run and test, from Debian's archive only.
# Idempotent: apt-get is skipped when everything is already installed.
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config clang llvm
    libbpf-dev bpftool libelf-dev zlib1g-dev
    libspdlog-dev libfmt-dev libcxxopts-dev nlohmann-json3-dev
    libsqlite3-dev libzmq3-dev cppzmq-dev libndpi-dev libpcap-dev
    doctest-dev libclang-rt-14-dev
    # run and test: real servers and clients that make real traffic, and a real capture
    iproute2 curl netcat-openbsd util-linux procps python3 openssl tcpdump
    python3-jsonschema  # the event stream's documents checked against docs/events.schema.json
    dnsmasq-base dropbear-bin openssh-client bind9-dnsutils
    # the SIEM consumer of the ZeroMQ event stream (packaging/rsyslog, docs/siem.md)
    rsyslog rsyslog-czmq
    # man pages: rendered and checked by a test (packaging/man)
    man-db groff-base
    # packages: built by cpack, checked by lintian and rpmlint, the unit by systemd-analyze;
    # installed and purged by a test (scripts/package.sh, tests/package)
    dpkg-dev fakeroot lintian rpm rpmlint systemd
    # benchmarks: nDPI's own reader, as the baseline
    libndpi-bin
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: all ${#packages[@]} packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run as root (or with sudo) to install them" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
