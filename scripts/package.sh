#!/usr/bin/env bash
# Builds policer's .deb and .rpm with CPack into <build>/packages and checks them: lintian
# and rpmlint must report no error (warnings are printed; every lintian override is justified
# in packaging/debian/lintian-overrides). Expects a configured and built tree
# (scripts/build.sh; $POLICER_BUILD_DIR, default ./build). Needs lintian, rpm and rpmlint
# (scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=$(realpath "${POLICER_BUILD_DIR:-build}")
out="$build_dir/packages"

rm -rf "$out"
mkdir -p "$out"
# cpack runs the install rules into a staging tree of its own: nothing is installed here.
(cd "$build_dir" && cpack -G "DEB;RPM" -B "$out" >"$out/cpack.log" 2>&1) || {
    cat "$out/cpack.log" >&2
    echo "package.sh: cpack failed" >&2
    exit 1
}
rm -rf "$out/_CPack_Packages"
deb=$(ls "$out"/policer_*.deb)
rpm=$(ls "$out"/policer-*.rpm)
echo "package.sh: built $(basename "$deb") and $(basename "$rpm")"

status=0
echo "== lintian $(basename "$deb")"
# --fail-on error: warnings and infos are shown, only errors fail.
lintian --fail-on error --tag-display-limit 0 "$deb" || status=1

echo "== rpmlint $(basename "$rpm")"
# rpmlint exits non-zero when it finds an error; its filters (each with its reason) are in
# packaging/rpm/rpmlint.toml.
rpmlint --config packaging/rpm/rpmlint.toml "$rpm" || status=1

if [ "$status" -ne 0 ]; then
    echo "package.sh: the package checks found errors" >&2
    exit 1
fi
echo "package.sh: lintian and rpmlint report no errors"
