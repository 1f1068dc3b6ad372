# Sourced by test-all.sh and bench.sh: installs Debian packages that are missing, without
# letting any of them start a system service (haproxy's and nginx's would take port 80).
#
# install_debian_packages PKG...: no-op without arguments. As root (CI, containers) apt-get
# runs as is; a developer's account goes through sudo. invoke-rc.d asks policy-rc.d whether a
# package may start its service, and 101 means "not allowed"; only a policy put in place here
# is removed afterwards, however the install ends (a failure, Ctrl-C, a kill): a policy left
# behind would keep every later install on the machine from starting its service, silently.
#
# It runs in a subshell of its own, so its traps never replace the caller's. `env` carries
# DEBIAN_FRONTEND past sudo, whose env_reset drops it (a debconf question would then wait for
# an answer); with it, the command prefix is never an empty array (set -u on bash < 4.4).
install_debian_packages() (
  [ $# -gt 0 ] || exit 0
  policy=/usr/sbin/policy-rc.d
  as_root=(env DEBIAN_FRONTEND=noninteractive)
  [ "$(id -u)" -eq 0 ] || as_root=(sudo "${as_root[@]}")
  echo "installing Debian packages: $*"
  "${as_root[@]}" apt-get update -qq
  if [ ! -e "$policy" ]; then
    trap '"${as_root[@]}" rm -f "$policy"' EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
  fi
  # policy-rc.d keeps a service from starting now, not from being enabled: on a machine run by
  # systemd, the services these packages (or their dependencies) ship, nginx's, PostgreSQL's,
  # HAProxy's, etcd's, would start at the next boot and hold ports 80, 5432, 2379. The tests and
  # benchmarks start their own copies: every service this install enabled is disabled again.
  systemd=""
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null && systemd=1
  enabled() { systemctl list-unit-files --type=service --state=enabled --no-legend 2>/dev/null | awk '{print $1}' | sort; }
  before=""
  [ -z "$systemd" ] || before=$(enabled)
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  if [ -n "$systemd" ]; then
    for unit in $(comm -13 <(printf '%s\n' "$before") <(enabled)); do
      "${as_root[@]}" systemctl disable --quiet "$unit" || true
    done
  fi
)
