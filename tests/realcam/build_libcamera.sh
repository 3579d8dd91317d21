#!/usr/bin/env bash
# Build libcamera with only its *virtual* pipeline handler (a software camera, no hardware) and its
# Python binding, for the tests that run the real picamera2 (tests/realcam/). See ../shared/FACTS.md,
# "Real picamera2 on a virtual camera".
#
#   tests/realcam/build_libcamera.sh            # or: make realcam
#
# Source: ../shared/vendor/libcamera-0.7.2.tar.gz (beside the repo, read-only) plus the two test-harness
# patches next to it (virtual-raw-role.patch, virtual-pacing.patch). The build happens in a temporary
# directory; the result is installed into a prefix outside the git tree:
#
#   LIBCAMERA_PREFIX   install prefix (default /var/cache/motion-watcher/libcamera-0.7.2)
#   PYTHON             interpreter the binding is built for (default: python3 on PATH). The pybind11
#                      module only imports into the Python it was built against: pass the venv's.
#   LIBCAMERA_VENDOR   folder holding the tarball and the patches (default ../shared/vendor)
#
# Idempotent: a stamp file in the prefix records what was built (tarball, patches, this script, the
# Python); when it matches, a second run does nothing. As root it apt-installs the build dependencies
# that are missing (like CI); otherwise it names them and stops.
set -euo pipefail

main() {  # the whole script is read before it runs: editing or checking out this file mid-build is safe
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
prefix="${LIBCAMERA_PREFIX:-/var/cache/motion-watcher/libcamera-0.7.2}"
vendor="${LIBCAMERA_VENDOR:-$repo/../shared/vendor}"
python="${PYTHON:-python3}"
tarball="$vendor/libcamera-0.7.2.tar.gz"
patches=("$vendor/virtual-raw-role.patch" "$vendor/virtual-pacing.patch")

for f in "$tarball" "${patches[@]}"; do
  [ -r "$f" ] || { echo "build_libcamera: $f not found (set LIBCAMERA_VENDOR)" >&2; exit 1; }
done
python="$(command -v "$python")" || { echo "build_libcamera: no Python '${PYTHON:-python3}'" >&2; exit 1; }
case "$python" in /*) ;; *) python="$PWD/$python" ;; esac  # the build runs elsewhere: make it absolute
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# What this build is made of; the stamp holds it.
stamp="$prefix/.motion-watcher-build"
want="$( (sha256sum "$tarball" "${patches[@]}" "$0" | cut -d' ' -f1; echo "python $pyver") | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "libcamera already built in $prefix (python $pyver)"
  return 0
fi

# Build dependencies (Debian 12 names). libcap-dev is for picamera2's python-prctl, built by pip later.
deps=(meson ninja-build pkg-config cmake g++ libyaml-dev libgnutls28-dev openssl libudev-dev libyuv-dev
      pybind11-dev libcap-dev python3-dev)
missing=()
for d in "${deps[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$d" 2>/dev/null)" = "install ok installed" ] || missing+=("$d")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "build_libcamera: missing Debian packages: ${missing[*]} (apt-get install them as root)" >&2
    exit 1
  fi
  echo "build_libcamera: apt-get install ${missing[*]}"
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# libcamera's meson checks these modules with the python3 it finds on PATH: make that ours.
"$python" -m pip install --quiet ply pyyaml jinja2
work="$(mktemp -d -t libcamera-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"  # a wrapper, not a symlink: a symlinked venv python would not know its venv
printf '#!/bin/sh\nexec "%s" "$@"\n' "$python" >"$work/bin/python3"
chmod +x "$work/bin/python3"
tar -xzf "$tarball" -C "$work"
src="$work/libcamera-0.7.2"
for p in "${patches[@]}"; do
  patch -d "$src" -p1 --quiet < "$p"
done

# Only ever wipe a prefix this script made (a stamp or a partial marker in it), or an empty one.
if [ -e "$prefix" ] && [ -n "$(ls -A "$prefix")" ] && [ ! -e "$stamp" ] && [ ! -e "$prefix/.motion-watcher-partial" ]; then
  echo "build_libcamera: $prefix exists and was not made by this script; remove it or set LIBCAMERA_PREFIX" >&2
  exit 1
fi
rm -rf "$prefix"
mkdir -p "$prefix"
touch "$prefix/.motion-watcher-partial"
start=$SECONDS
(
  cd "$src"
  export PATH="$work/bin:$PATH"
  # udev stays enabled: with -Dudev=disabled libcamera fails here (no media devices in sysfs).
  meson setup build --prefix="$prefix" --libdir=lib \
    -Dpipelines=virtual -Dipas= -Dpycamera=enabled -Dudev=enabled \
    -Dcam=disabled -Dqcam=disabled -Dgstreamer=disabled -Dlc-compliance=disabled \
    -Dtest=false -Ddocumentation=disabled -Dv4l2=disabled >"$work/meson.log" 2>&1 \
    || { tail -40 "$work/meson.log" >&2; exit 1; }
  ninja -C build install >"$work/ninja.log" 2>&1 || { tail -60 "$work/ninja.log" >&2; exit 1; }
)
# The per-test camera YAML is named by LIBCAMERA_VIRTUAL_CONFIG_FILE (virtual-pacing.patch); this
# default only makes `import libcamera` outside the tests see one test-pattern camera.
mkdir -p "$prefix/share/libcamera/pipeline/virtual"
cat >"$prefix/share/libcamera/pipeline/virtual/virtual.yaml" <<'EOF'
"Virtual0":
  supported_formats:
  - width: 640
    height: 360
  test_pattern: "bars"
  location: "CameraLocationFront"
  model: "Virtual Video Device"
EOF

# Where meson put the binding depends on the interpreter's install scheme: look, and write it down
# for the tests (tests/realcam/env.py reads it).
init="$(find "$prefix/lib" -path '*/libcamera/__init__.py' -print -quit)"
[ -n "$init" ] || { echo "build_libcamera: the Python binding was not installed" >&2; exit 1; }
site="$(dirname "$(dirname "$init")")"
LD_LIBRARY_PATH="$prefix/lib" PYTHONPATH="$site" "$python" -c 'import libcamera' \
  || { echo "build_libcamera: the built binding does not import into $python" >&2; exit 1; }
printf 'LD_LIBRARY_PATH=%s\nPYTHONPATH=%s\n' "$prefix/lib" "$site" >"$prefix/env"
rm -f "$prefix/.motion-watcher-partial"
echo "$want" >"$stamp"
echo "libcamera built and installed in $prefix in $((SECONDS - start)) s (binding: $site)"
}

main "$@"
exit
