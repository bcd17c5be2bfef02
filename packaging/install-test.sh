#!/usr/bin/env bash
# Install the .deb in a throwaway root and do what a province's IT team
# does with it (packaging/install-test-inside.sh): dpkg -i, diemcau check,
# the server started as the unit starts it, an admin, a backup, a restore
# onto a fresh data directory, audit verify, the server again.
#
# The root is an overlay over this machine's / in a private mount and
# network namespace: dpkg, useradd and the server change only the overlay,
# which is deleted at the end; the ports are the namespace's own.
# Needs root. Usage: packaging/install-test.sh target/debian/diemcau_*.deb
set -euo pipefail
deb=$(realpath "${1:?usage: packaging/install-test.sh diemcau_VERSION_ARCH.deb}")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/diemcau-install-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/upper "$work"/work "$work"/root
cp "$deb" "$work/upper/diemcau.deb"
cp "$here/install-test-inside.sh" "$work/upper/install-test-inside.sh"
unshare --mount --net --propagation private bash -euo pipefail -c '
w=$1
mount -t overlay overlay -o "lowerdir=/,upperdir=$w/upper,workdir=$w/work" "$w/root"
mount -t proc proc "$w/root/proc"
mount --bind /dev "$w/root/dev"
mount -t tmpfs tmpfs "$w/root/tmp"
ip link set lo up
chroot "$w/root" /bin/bash /install-test-inside.sh
' _ "$work"
echo "install-test: $deb installs, checks, serves, backs up and restores"
