#!/usr/bin/env bash
# Check a built diemcau .deb without installing it: the files it ships
# (with their modes), the conffile, the maintainer scripts (the user, the
# systemd hooks), and that the packaged binary and unit work.
# Usage: packaging/check-deb.sh target/debian/diemcau_VERSION_ARCH.deb
set -euo pipefail
deb=${1:?usage: packaging/check-deb.sh diemcau_VERSION_ARCH.deb}
fail() { echo "check-deb: $*" >&2; exit 1; }

listing=$(dpkg-deb -c "$deb")
expect() { # mode path
  grep -Eq "^$1 .* \./$2\$" <<<"$listing" || fail "$2 (mode $1) is not in $deb"
}
expect '-rwxr-xr-x' usr/bin/diemcau
expect '-rw-r-----' etc/diemcau/diemcau.toml
expect '-rw-r--r--' '(usr/)?lib/systemd/system/diemcau.service'
expect '-rw-r--r--' usr/share/doc/diemcau/README.md

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/diemcau/diemcau.toml "$work/control/conffiles" || fail "the config is not a conffile"
grep -q 'useradd --system' "$work/control/postinst" || fail "postinst does not make the user"
grep -q 'deb-systemd-helper' "$work/control/postinst" || fail "postinst lacks the systemd hooks"
sh -n "$work/control/postinst" || fail "postinst is not valid shell"

dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/diemcau" --version >/dev/null || fail "the packaged binary does not run"
unit=$(find "$work/root" -name diemcau.service | head -n1)
sed "s#/usr/bin/diemcau#$work/root/usr/bin/diemcau#" "$unit" >"$work/diemcau.service"
out=$(systemd-analyze verify "$work/diemcau.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify: $out"
echo "check-deb: $deb ok ($(du -h "$deb" | cut -f1))"
