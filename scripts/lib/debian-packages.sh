# Sourced by test-all.sh and bench.sh: installs Debian packages that are missing, without
# letting any of them start a system service (haproxy's and nginx's would take port 80).
#
# install_debian_packages PKG...: no-op without arguments. As root (CI, containers) apt-get
# runs as is; a developer's account goes through sudo. invoke-rc.d asks policy-rc.d whether a
# package may start its service, and 101 means "not allowed"; only a policy put in place here
# is removed afterwards.
install_debian_packages() {
  [ $# -gt 0 ] || return 0
  local sudo=() own_policy=""
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null && "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  local rc=0
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  [ -z "$own_policy" ] || "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  return $rc
}
