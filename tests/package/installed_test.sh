#!/usr/bin/env bash
# installed_test.sh BUILD_DIR - the .deb on this machine, as an administrator would use it:
# install it with apt-get, check the installed configuration (policerd --check-config) and unit
# (systemd-analyze verify), start the installed policerd the way the unit does (its ExecStart,
# its capability bounding set and group, NOTIFY_SOCKET) since systemd is not PID 1 here, see a
# loopback TCP flow attributed through the installed `policer` CLI, stop it, then remove and
# purge: conffiles and the store stay after remove and are gone after purge, nothing else is
# left. Also checks the RPM's file list, config files, dependencies and scripts.
#
# Packages come from scripts/package.sh (BUILD_DIR/packages). Root only. The package is never
# left installed: the EXIT trap purges it, whatever failed. A policer package that was
# installed before the test is not touched: the test refuses to run. Directories the package
# owns that exist without it (a development store) are moved aside and restored.
set -uo pipefail

build_dir=$(realpath "$1")
pkg_dir="$build_dir/packages"
failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=1
}
ok() { echo "ok: $*"; }
die() {
    echo "FAIL: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (installs a package)"
deb=$(ls "$pkg_dir"/policer_*.deb 2>/dev/null | head -1)
rpm=$(ls "$pkg_dir"/policer-*.rpm 2>/dev/null | head -1)
[ -f "$deb" ] && [ -f "$rpm" ] || die "no packages in $pkg_dir (run scripts/package.sh)"
if dpkg-query -W -f='${Status}' policer 2>/dev/null | grep -qv 'not-installed'; then
    die "a policer package is already on this machine; not touching it"
fi
work=$(mktemp -d /tmp/pl-pkgtest-XXXXXX)
# Purge deletes these: a store or configuration made without the package (scripts/run.sh's
# store, say) is not the test's. It is moved aside and put back by the EXIT trap.
saved="$work/saved"
mkdir -p "$saved"
for d in /etc/policer /var/lib/policer /run/policer; do
    if [ -e "$d" ]; then
        mkdir -p "$saved$(dirname "$d")"
        mv "$d" "$saved$d" || die "cannot move $d aside"
        echo "note: $d existed; moved aside until the test ends" >&2
    fi
done
# A pin directory of the test's own: kernel tests on this machine use the default one.
pin_dir="/sys/fs/bpf/pl-pkgtest-$$"
daemon_pid="" http_pid="" listener_pid=""

cleanup() {
    [ -n "${policy_rc_d_ours:-}" ] && rm -f /usr/sbin/policy-rc.d
    for pid in $daemon_pid $http_pid $listener_pid; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    local policerd=/usr/sbin/policerd
    [ -x "$policerd" ] || policerd="$build_dir/policer/policerd"
    [ -e "$pin_dir" ] && "$policerd" --pin-dir "$pin_dir" --remove-enforcement --log-level warn
    if dpkg-query -W -f='${Status}' policer 2>/dev/null | grep -qv 'not-installed'; then
        echo "cleanup: purging the policer package" >&2
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq policer >/dev/null 2>&1 ||
            dpkg --purge policer >/dev/null 2>&1
    fi
    for d in /etc/policer /var/lib/policer /run/policer; do
        if [ -e "$saved$d" ]; then
            rm -rf "$d"
            mv "$saved$d" "$d" || echo "cleanup: could not restore $d from $saved$d" >&2
        fi
    done
    [ -n "$(find "$saved" -mindepth 1 -type f -print -quit 2>/dev/null)" ] ||
        rm -rf "$work" # kept if something could not be restored
}
trap cleanup EXIT

# ---- the RPM: files, config files, dependencies, scripts ------------------------------------
rpm_files=$(rpm -qlp "$rpm" 2>/dev/null)
for f in /usr/sbin/policerd /usr/bin/policer /etc/policer/policer.conf \
    /etc/policer/rules.d/00-default.rules /usr/lib/systemd/system/policerd.service \
    /usr/lib/sysusers.d/policer.conf /usr/share/man/man8/policerd.8.gz \
    /usr/share/man/man8/policer.8.gz /usr/share/man/man5/policer.rules.5.gz \
    /usr/share/bash-completion/completions/policer; do
    grep -qxF "$f" <<<"$rpm_files" || fail "the RPM does not hold $f"
done
for f in /usr /usr/lib /usr/lib/systemd /usr/lib/systemd/system /etc /usr/share/man/man8; do
    grep -qxF "$f" <<<"$rpm_files" && fail "the RPM claims the system directory $f"
done
grep -q 'changelog.Debian\|lintian' <<<"$rpm_files" && fail "the RPM holds Debian-only files"
[ "$(rpm -qp --configfiles "$rpm" 2>/dev/null | sort)" = \
    "$(printf '/etc/policer/policer.conf\n/etc/policer/rules.d/00-default.rules')" ] ||
    fail "the RPM's config files are not exactly policer.conf and 00-default.rules"
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" 2>/dev/null |
    grep -q '^cn /etc/policer/policer.conf$' || fail "policer.conf is not %config(noreplace)"
rpm_requires=$(rpm -qp --requires "$rpm" 2>/dev/null)
for r in shadow-utils 'libbpf.so' 'libndpi.so' 'libsqlite3.so'; do
    grep -q "$r" <<<"$rpm_requires" || fail "the RPM does not require $r"
done
rpm_scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
for s in 'preinstall scriptlet' 'groupadd -r policer' 'postinstall scriptlet' \
    'preuninstall scriptlet' '--remove-enforcement' 'postuninstall scriptlet' 'try-restart'; do
    grep -qF -- "$s" <<<"$rpm_scripts" || fail "the RPM's scripts lack '$s'"
done
ok "RPM: $(wc -l <<<"$rpm_files") files, config files, requires and scripts"

# ---- install ------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
# On a host where systemd runs, postinst would start the real service (default pin directory,
# /run/policer/policer.sock) beside the test's policerd: policy-rc.d says no while it runs.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# policer installed_test.sh: no service starts while it runs\nexit 101\n' \
        >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    policy_rc_d_ours=1
fi
apt-get install -y -qq --no-install-recommends "$deb" >"$work/install.log" 2>&1 ||
    die "apt-get install failed: $(cat "$work/install.log")"
ok "installed $(basename "$deb")"
installed_files=$(dpkg -L policer)
for f in /usr/sbin/policerd /usr/bin/policer /etc/policer/policer.conf \
    /etc/policer/rules.d/00-default.rules /usr/lib/systemd/system/policerd.service \
    /usr/share/man/man8/policerd.8.gz /usr/share/man/man5/policer.rules.5.gz \
    /usr/share/doc/policer/copyright /usr/share/doc/policer/changelog.Debian.gz \
    /usr/share/doc/policer/examples/policer-siem.conf; do
    [ -e "$f" ] || fail "$f is not installed"
done
getent group policer >/dev/null || fail "the policer group was not created"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' policer | awk 'NF { print $1 }' | sort)
[ "$conffiles" = "$(printf '/etc/policer/policer.conf\n/etc/policer/rules.d/00-default.rules')" ] ||
    fail "conffiles are not exactly policer.conf and 00-default.rules: $conffiles"
[ "$(stat -c '%U %a' /etc/policer/policer.conf)" = "root 644" ] ||
    fail "/etc/policer/policer.conf is not root's, mode 644"
man -w policerd >/dev/null 2>&1 && man -w 5 policer.rules >/dev/null 2>&1 && man -w policer \
    >/dev/null 2>&1 || fail "man cannot find the installed pages"
ok "files, conffiles, group and man pages in place"

# ---- the installed configuration and unit -----------------------------------------------------
out=$(/usr/sbin/policerd --check-config --config /etc/policer/policer.conf 2>&1) ||
    fail "policerd --check-config on the installed config failed: $out"
grep -q '^OK: config /etc/policer/policer.conf' <<<"$out" || fail "check-config said: $out"
ok "policerd --check-config: $out"
# A broken copy: the error names the file and line, and the answer is 1.
cp /etc/policer/policer.conf "$work/bad.conf"
echo "max-flow = 10" >>"$work/bad.conf"
bad_line=$(wc -l <"$work/bad.conf")
out=$(/usr/sbin/policerd --check-config --config "$work/bad.conf" 2>&1)
[ $? -eq 1 ] && grep -qF "$work/bad.conf:$bad_line: unknown key 'max-flow'" <<<"$out" ||
    fail "check-config of a broken file: $out"
ok "check-config names file:line of an error and exits 1"

unit=/usr/lib/systemd/system/policerd.service
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify "$unit" 2>&1)
    [ -z "$out" ] || fail "systemd-analyze verify $unit printed: $out"
    ok "systemd-analyze verify: no output"
else
    fail "systemd-analyze not found (scripts/deps.sh installs systemd)"
fi

# ---- start the installed policerd the way the unit does -----------------------------------
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
group=$(sed -n 's/^Group=//p' "$unit")
[ -n "$exec_start" ] && [ -n "$caps" ] && [ "$group" = policer ] || fail "unit: cannot read it"
setpriv_caps=$(tr ' ' '\n' <<<"$caps" | sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' |
    paste -sd,)
# StateDirectory= and RuntimeDirectory= (mode 0750, the unit's group).
install -d -m 0750 -g policer /var/lib/policer /run/policer

notify="$work/notify.sock"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        msg = s.recv(4096).decode()
        out.write(msg.replace("\n", " ") + "\n")
' "$notify" "$work/notify.log" &
listener_pid=$!
for _ in $(seq 50); do [ -S "$notify" ] && break; sleep 0.1; done

# shellcheck disable=SC2086 # ExecStart is split into words as systemd does for it.
(
    umask 0027
    ulimit -l unlimited
    export NOTIFY_SOCKET="$notify"
    exec setpriv --bounding-set "-all,$setpriv_caps" --inh-caps=-all --regid policer \
        --clear-groups --no-new-privs -- $exec_start --pin-dir "$pin_dir"
) >"$work/stdout" 2>"$work/stderr" &
daemon_pid=$!
for _ in $(seq 600); do
    grep -q 'READY=1' "$work/notify.log" 2>/dev/null && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
done
if grep -q 'READY=1' "$work/notify.log" 2>/dev/null; then
    ok "policerd notified READY=1 ($(head -1 "$work/notify.log"))"
else
    cat "$work/stderr" >&2
    die "policerd did not notify READY=1"
fi
cap_bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$daemon_pid/status")
cap_eff=$(awk '/^CapEff/ { print $2 }' "/proc/$daemon_pid/status")
# CAP_DAC_READ_SEARCH 2, CAP_NET_ADMIN 12, CAP_SYS_PTRACE 19, CAP_PERFMON 38, CAP_BPF 39.
expected=$(printf '%016x' $(((1 << 2) | (1 << 12) | (1 << 19) | (1 << 38) | (1 << 39))))
[ "$cap_bnd" = "$expected" ] && [ "$cap_eff" = "$expected" ] ||
    fail "policerd capabilities: bounding $cap_bnd, effective $cap_eff, expected $expected"
ok "policerd runs with only the unit's capabilities ($expected)"
[ "$(stat -c '%G %a' /run/policer/policer.sock)" = "policer 660" ] ||
    fail "the control socket is not group policer, mode 660: $(stat -c '%G %a' /run/policer/policer.sock)"
[ "$(stat -c '%G %a' /var/lib/policer/policer.db)" = "policer 640" ] ||
    fail "the store is not group policer, mode 640: $(stat -c '%G %a' /var/lib/policer/policer.db)"

# ---- a flow, attributed through the installed CLI -------------------------------------------
port=$((20000 + RANDOM % 20000))
mkdir "$work/www"
echo hello >"$work/www/index.html"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >/dev/null 2>&1 &
http_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
curl -s "http://127.0.0.1:$port/index.html" >/dev/null || fail "curl to the local server failed"
found=""
for _ in $(seq 100); do
    found=$(/usr/bin/policer flows --json --limit 200 2>/dev/null |
        python3 -c '
import json, sys
port = int(sys.argv[1])
for line in sys.stdin:
    e = json.loads(line)
    if e.get("destination", {}).get("port") == port and \
       e.get("process", {}).get("executable") == "/usr/bin/curl":
        print(e["process"]["executable"], e.get("user", {}).get("name"), e["network"]["transport"])
        break
' "$port")
    [ -n "$found" ] && break
    sleep 0.2
done
[ -n "$found" ] || fail "no flow to port $port attributed to curl in policer flows --json"
ok "policer flows --json: the flow to 127.0.0.1:$port is $found"
status=$(/usr/bin/policer status --json 2>&1)
grep -q '"mode": *"audit"' <<<"$status" || fail "policer status does not say mode audit: $status"
ok "policer status: the shipped policy runs in mode audit"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
rc=$?
daemon_pid=""
[ "$rc" -eq 0 ] || fail "policerd exited $rc on SIGTERM: $(tail -5 "$work/stderr")"
grep -q 'STOPPING=1' "$work/notify.log" || fail "policerd did not notify STOPPING=1"
grep -q ' error ' "$work/stderr" && fail "policerd logged errors: $(grep ' error ' "$work/stderr")"
ok "policerd stopped cleanly and notified STOPPING=1"
/usr/sbin/policerd --pin-dir "$pin_dir" --remove-enforcement --log-level warn ||
    fail "removing the test's pinned enforcement failed"

# ---- remove: conffiles and store stay; purge: all gone ------------------------------------
# prerm removes the enforcement pinned where policer.conf says: the test's directory, not the
# default one another policerd on this machine may be using.
echo "pin-dir = $pin_dir" >>/etc/policer/policer.conf
apt-get remove -y -qq policer >"$work/remove.log" 2>&1 || fail "apt-get remove: $(cat "$work/remove.log")"
[ "$(dpkg-query -W -f='${Status}' policer)" = "deinstall ok config-files" ] ||
    fail "after remove the package is $(dpkg-query -W -f='${Status}' policer)"
for f in /etc/policer/policer.conf /etc/policer/rules.d/00-default.rules /var/lib/policer/policer.db; do
    [ -e "$f" ] || fail "$f is gone after remove (it must stay until purge)"
done
for f in /usr/sbin/policerd /usr/bin/policer /usr/lib/systemd/system/policerd.service; do
    [ -e "$f" ] && fail "$f is still there after remove"
done
ok "remove: binaries gone, conffiles and store kept"

apt-get purge -y -qq policer >"$work/purge.log" 2>&1 || fail "apt-get purge: $(cat "$work/purge.log")"
dpkg-query -W -f='${Status}' policer 2>/dev/null | grep -qv 'not-installed' &&
    fail "after purge dpkg still knows policer: $(dpkg-query -W -f='${Status}' policer)"
while read -r f; do
    [ -z "$f" ] || [ -d "$f" ] || [ ! -e "$f" ] || fail "$f is left after purge"
done <<<"$installed_files"
for f in /etc/policer /var/lib/policer /run/policer \
    /etc/systemd/system/multi-user.target.wants/policerd.service \
    /var/lib/systemd/deb-systemd-helper-enabled/policerd.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-masked/policerd.service; do
    [ -e "$f" ] || [ -L "$f" ] && fail "$f is left after purge"
done
ok "purge: conffiles, store, runtime directory and unit state gone"

[ "$failed" -eq 0 ] && echo "installed package test: all checks passed"
exit "$failed"
