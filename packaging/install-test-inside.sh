#!/usr/bin/env bash
# Run by packaging/install-test.sh inside the throwaway root (see there).
set -euo pipefail
cd /
as_service() { runuser -u diemcau -- "$@"; }
fail() { echo "install-test: $*" >&2; exit 1; }
step() { echo "install-test: ok — $*"; }

dpkg -i /diemcau.deb >/dev/null
getent passwd diemcau >/dev/null || fail "no diemcau user"
[ "$(stat -c %U:%a /var/lib/diemcau)" = diemcau:750 ] || fail "/var/lib/diemcau is not diemcau's, 0750"
[ "$(stat -c %U:%G:%a /etc/diemcau/diemcau.toml)" = root:diemcau:640 ] || fail "the config is not root:diemcau 0640"
step "dpkg -i: user diemcau, /var/lib/diemcau, /etc/diemcau/diemcau.toml"

# The installer's check on the packaged config: exit 0 (warnings allowed).
as_service diemcau check >/tmp/check.txt || { cat /tmp/check.txt; fail "diemcau check failed"; }
step "diemcau check"

# The server as the unit runs it, until its banner; then a first admin.
serve() {
  # setpriv execs (runuser would fork): $! is the server, which stops
  # cleanly on SIGINT as under the unit (KillSignal=SIGINT).
  setpriv --reuid=diemcau --regid=diemcau --init-groups \
    /usr/bin/diemcau --config /etc/diemcau/diemcau.toml serve >/tmp/serve.log 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    grep -q "web:" /tmp/serve.log && return 0
    kill -0 "$pid" 2>/dev/null || { cat /tmp/serve.log; fail "the server stopped"; }
    sleep 0.2
  done
  cat /tmp/serve.log
  fail "the server did not start"
}
stop() {
  kill -INT "$pid"
  wait "$pid" || fail "the server did not stop cleanly on SIGINT: $(tail -n 5 /tmp/serve.log)"
}
serve
DIEMCAU_ADMIN_PASSWORD='mật khẩu đủ dài 2026' as_service diemcau admin create --name admin >/dev/null
stop
step "serve as the unit does, admin create, clean stop on SIGINT"

# A backup where the service's user may write, then a fresh data directory
# restored from it as root (the files go back to diemcau).
as_service diemcau backup /var/lib/diemcau/backups/b1 >/dev/null 2>&1
step "diemcau backup"
mv /var/lib/diemcau /var/lib/diemcau.old
install -d -o diemcau -g diemcau -m 0750 /var/lib/diemcau
diemcau restore /var/lib/diemcau.old/backups/b1 >/dev/null
[ "$(stat -c %U /var/lib/diemcau/diemcau.db)" = diemcau ] || fail "restored files are not diemcau's"
as_service diemcau audit verify | grep -q "^OK: audit log intact" || fail "audit verify failed on the restore"
step "diemcau restore onto a fresh data directory, audit verify"
serve
stop
step "serve on the restored data"
