#!/usr/bin/env bash
# check_man_pages.sh MAN_DIR POLICERD POLICER - the man pages render without a single warning
# (what `man --warnings` reports: bad requests, unknown escapes, broken tables), and they say
# what the programs do: every option of `policerd --help` is in policerd.8, every rule field
# of `policer fields` in policer.rules.5, every command of `policer --help` and
# `policer rule --help` in policer.8.
set -uo pipefail

man_dir=$1 policerd=$2 policer=$3
failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=1
}

pages=("$man_dir"/*.[1-8])
[ "${#pages[@]}" -ge 3 ] || fail "expected policer.8, policerd.8 and policer.rules.5 in $man_dir"
for page in "${pages[@]}"; do
    # A fixed width, so that the result does not depend on the terminal the test runs in.
    warnings=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l -E UTF-8 "$page" 2>&1 >/dev/null)
    status=$?
    if [ $status -ne 0 ] || [ -n "$warnings" ]; then
        fail "$page: man exited $status:"
        echo "$warnings" >&2
    else
        echo "ok: $(basename "$page") renders without warnings"
    fi
done

# Roff writes a hyphen in an option as \- : compare with the escapes removed. (Read once:
# `sed ... | grep -q` would fail now and then under pipefail, when grep stops reading early.)
text_of() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"; }
policerd_8=$(text_of "$man_dir/policerd.8")
policer_8=$(text_of "$man_dir/policer.8")
rules_5=$(text_of "$man_dir/policer.rules.5")

options=$("$policerd" --help | grep -oE '^ +(-[a-z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+')
[ -n "$options" ] || fail "no options found in policerd --help"
for opt in $options; do
    grep -qF -- "$opt" <<<"$policerd_8" || fail "policerd.8 does not describe $opt"
done
echo "ok: policerd.8 describes the $(echo "$options" | wc -w) options of policerd --help"

fields=$("$policer" fields | awk 'NR > 1 && NF == 0 { exit } NR > 1 { print $1 }')
[ -n "$fields" ] || fail "no fields found in policer fields"
for field in $fields; do
    grep -qE "^\.B $field\$" <<<"$rules_5" ||
        fail "policer.rules.5 does not describe the field $field"
done
echo "ok: policer.rules.5 describes the $(echo "$fields" | wc -w) fields of policer fields"

commands=$("$policer" --help | grep -oE '^  [a-z]+( [a-z|]+)?' | awk '{ print $1 }' | sort -u)
for cmd in $commands; do
    grep -qE "(^|[ \"])$cmd( |\$)" <<<"$policer_8" ||
        fail "policer.8 does not describe the command $cmd"
done
echo "ok: policer.8 names the commands of policer --help: $(echo $commands)"

subs=$("$policer" rule --help | grep -oE '^  [a-z|]+' | tr '|' '\n' | tr -d ' ' | sort -u)
for sub in $subs; do
    grep -qE "rule $sub( |\"|\$)" <<<"$policer_8" ||
        fail "policer.8 does not describe policer rule $sub"
done
echo "ok: policer.8 names the commands of policer rule --help: $(echo $subs)"

exit $failed
