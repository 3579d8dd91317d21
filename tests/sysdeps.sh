#!/usr/bin/env bash
# The Debian 12 packages the tests need, installed by `make test` itself so that a bare machine (Python 3.11 and
# make, nothing else) needs no other step. `make sysdeps` runs it; `make test` runs that first.
#
#   tests/sysdeps.sh           as root: refresh apt's lists and install what is missing (nothing else; a second
#                              run does nothing). Not root and something missing: print the exact command to
#                              run as root and exit 1, before any test. Nothing missing: exit 0, root or not.
#   tests/sysdeps.sh --check   only print the commands it would run, one a line; exit 1 if there are any
#   tests/sysdeps.sh --list    print every package the tests need, one a line
#
# "Missing" is what dpkg says is not installed, so the check needs no root and the same names go to apt-get.
# apt's lists are refreshed before an install (stale lists name versions the mirror no longer has), and also
# when apt knows no opencv-doc and the test footage is not fetched yet: tests/footage.py gets vtest.avi with
# `apt-get download opencv-doc`, which needs the lists.
set -euo pipefail

# Package, and why the tests need it.
PACKAGES=(
  python3-venv      # .venv and .venv-pi: Debian's python3 has no ensurepip without it
  openssh-server    # the inspector is tested against a real /usr/sbin/sshd
  openssh-client    # ssh-keygen makes the throwaway keys; sftp and scp race the inspector (tests.bench transfer)
  rsync             # tests.bench transfer races the inspector against rsync (tests/integration/test_bench_transfer.py)
  shellcheck        # deploy/*.sh and this script are linted by the tests
  systemd           # systemd-analyze verifies the unit files
  chromium          # the report is opened in headless Chromium (/usr/bin/chromium)
  mosquitto         # MQTT events are tested against a real broker (tests/mosquitto.py)
  python3-numpy     # make test-pi-stack: the Raspberry Pi OS Bookworm stack under /usr/bin/python3
  python3-opencv
  python3-av
  # make test-realcam: tests/realcam/build_libcamera.sh builds libcamera's virtual camera with these (it
  # installs them itself as root; named here too so that a non-root run stops before the first test).
  # libcap-dev is for picamera2's python-prctl, built by pip; patch applies the two test patches.
  meson ninja-build pkg-config cmake g++ libyaml-dev libgnutls28-dev openssl libudev-dev libyuv-dev
  pybind11-dev libcap-dev python3-dev patch
)

here="$(cd "$(dirname "$0")" && pwd)"

usage() {
  echo "usage: $0 [--check | --list]" >&2
  exit 2
}

installed() {  # dpkg's word, not a probe of one file: the package name is what apt-get is then given
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

footage_ready() {  # what tests/footage.py looks for before it downloads
  [ -f "${WATCHER_TEST_FOOTAGE:-/nonexistent}/vtest.avi" ] || [ -f "$here/.footage/vtest.avi" ]
}

mode="${1:-install}"
case "$mode" in
  install | --check) ;;
  --list) printf '%s\n' "${PACKAGES[@]}"; exit 0 ;;
  *) usage ;;
esac
[ $# -le 1 ] || usage

if ! command -v dpkg-query >/dev/null; then
  echo "sysdeps: no dpkg-query: not Debian, nothing checked. The tests need the equivalents of:" \
       "${PACKAGES[*]}" >&2
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
update=no
if ((${#missing[@]})) || { ! footage_ready && ! apt-cache show opencv-doc >/dev/null 2>&1; }; then
  update=yes
fi

install_args=(install -y --no-install-recommends "${missing[@]}")
commands=()
[ "$update" = no ] || commands+=("apt-get update")
((${#missing[@]} == 0)) || commands+=("env DEBIAN_FRONTEND=noninteractive apt-get ${install_args[*]}")

if [ "$mode" = --check ]; then
  ((${#commands[@]})) || { echo "sysdeps: nothing to install"; exit 0; }
  printf '%s\n' "${commands[@]}"
  exit 1
fi

((${#commands[@]})) || exit 0
if [ "$(id -u)" -ne 0 ]; then
  ((${#missing[@]} == 0)) || echo "sysdeps: the tests need Debian packages that are not installed: ${missing[*]}" >&2
  [ "$update" = no ] || ((${#missing[@]})) \
    || echo "sysdeps: apt knows no opencv-doc (the tests' footage comes from it): its lists need a refresh" >&2
  echo "sysdeps: run this as root, then run make test again:" >&2
  line=""
  for c in "${commands[@]}"; do
    line="${line:+$line && }sudo $c"
  done
  echo "    $line" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$update" = yes ]; then
  echo "sysdeps: apt-get update"
  apt-get update -qq
fi
if ((${#missing[@]})); then
  echo "sysdeps: apt-get install ${missing[*]}"
  apt-get -qq "${install_args[@]}"
fi
