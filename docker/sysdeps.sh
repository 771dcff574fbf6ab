# System packages Cygnet needs, shared by the Makefile and the session image.
# Each need_* checks a package, installs it with apt when running as root, and otherwise stops
# with a message naming what to install.

_apt_install() {  # package...
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "cygnet: please install the system package(s): $* (apt-get install $*), then run this again" >&2
    return 1
  fi
  echo "cygnet: installing system package(s) $* with apt-get" >&2
  if [ -z "${_cygnet_apt_updated:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
    _cygnet_apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Java 17+ runs Spark's driver and clusters.
need_java() {
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
  if [ -n "$major" ] && [ "$major" -ge 17 ]; then return 0; fi
  _apt_install openjdk-17-jre-headless || return 1
  java -version >/dev/null 2>&1 || { echo "cygnet: Java 17+ is still missing after installing it" >&2; return 1; }
}

# git clones and updates repositories opened by link.
need_git() {
  command -v git >/dev/null 2>&1 && return 0
  _apt_install git || return 1
}

# The tests' EOS stand-in: Debian's xrootd server (and xrdcp, for bench/xrootd_io.py).
need_xrootd_server() {
  command -v xrootd >/dev/null 2>&1 && command -v xrdcp >/dev/null 2>&1 && return 0
  _apt_install xrootd-server xrootd-client || return 1
}

# The Kerberos tests run a real MIT KDC on loopback (krb5-kdc, kdb5_util, kadmin.local), Cygnet
# calls MIT's kinit, klist and kdestroy (krb5-user), and faketime skews a client's clock.
need_kerberos() {
  local missing=()
  command -v krb5kdc >/dev/null 2>&1 || missing+=(krb5-kdc krb5-admin-server)
  command -v kinit >/dev/null 2>&1 || missing+=(krb5-user)
  command -v faketime >/dev/null 2>&1 || missing+=(faketime)
  [ ${#missing[@]} -eq 0 ] && return 0
  _apt_install "${missing[@]}" || return 1
}

# Tests put the kernels a stack ships in views: R with IRkernel, and Octave (for octave_kernel).
need_view_kernels() {
  local missing=()
  command -v R >/dev/null 2>&1 || missing+=(r-base-core)
  [ -f /usr/share/jupyter/kernels/ir/kernel.json ] || missing+=(r-cran-irkernel)
  command -v octave-cli >/dev/null 2>&1 || missing+=(octave)
  [ ${#missing[@]} -eq 0 ] && return 0
  _apt_install "${missing[@]}" || return 1
}

# Batch runs' tests start a real Slurm (slurmctld, slurmd) authenticated by munge.
need_slurm() {
  local missing=()
  command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
  command -v munged >/dev/null 2>&1 || missing+=(munge)
  [ ${#missing[@]} -eq 0 ] && return 0
  _apt_install "${missing[@]}" || return 1
}

# Every session's Kerberos: MIT's kinit, klist and kdestroy (krb5-user), and the headers and
# compiler that requests-kerberos' gssapi and krb5 are built with (PyPI has no Linux wheels).
need_kerberos_client() {
  local missing=()
  command -v kinit >/dev/null 2>&1 || missing+=(krb5-user)
  command -v krb5-config >/dev/null 2>&1 || missing+=(libkrb5-dev)
  command -v gcc >/dev/null 2>&1 || missing+=(gcc)
  [ -f "$(${PYTHON:-python3} -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] \
    || missing+=(python3-dev)
  [ ${#missing[@]} -eq 0 ] && return 0
  _apt_install "${missing[@]}" || return 1
}

# The browser tests drive Debian's Chromium through Playwright (no browser download).
# Folders shared live (cygnet.shares.folders): the hub's service and the sessions set ACLs.
need_acl() {
  command -v setfacl >/dev/null 2>&1 && return 0
  _apt_install acl || return 1
}

need_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  _apt_install chromium || return 1
}

# What only the benchmarks compare against: rsync and rclone (bench/sync.py), wrk (share pages).
need_bench_tools() {
  local missing=()
  command -v rsync >/dev/null 2>&1 || missing+=(rsync)
  command -v rclone >/dev/null 2>&1 || missing+=(rclone)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  [ ${#missing[@]} -eq 0 ] && return 0
  _apt_install "${missing[@]}" || return 1
}

# podman, runc and debootstrap build and run the images in `make test-image` (no Docker daemon
# and no image registry here: the base image is made by debootstrap).
need_image_tools() {
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  _apt_install "${missing[@]}" || return 1
}
