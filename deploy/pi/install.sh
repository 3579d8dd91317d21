#!/usr/bin/env bash
# Install (or upgrade, or uninstall) the motion watcher on a Raspberry Pi. Idempotent: a second
# run with the same source changes nothing. See deploy/README.md.
#
#   sudo deploy/pi/install.sh --inspector-key inspector_ed25519.pub     install or upgrade
#   sudo deploy/pi/install.sh --uninstall                               remove; keeps the clips
#
# Options:
#   --inspector-key FILE   the inspector's public key: one line in /etc/ssh/authorized_keys/inspector,
#                          prefixed with "restrict" (kept from an earlier run when not given)
#   --root DIR             install into DIR as if it were /: every file is laid down under DIR, but no
#                          apt-get, no useradd/chown, no systemctl, no doctor (tests, image builds). The
#                          venv made there is for inspection: its scripts' #! lines name DIR; it sees the
#                          host's python3-numpy, python3-opencv and python3-av.
#   --no-python-deps       install none of the Python packages the watcher imports (python3-numpy,
#                          python3-opencv, python3-av, python3-picamera2) and do not check the config with
#                          them (tests; offline installs where they are provided otherwise)
#   --uninstall            stop and remove the units, the sshd drop-in, the inspector's key and account,
#                          the venv, and the default config if unchanged. Keeps /srv/motion-watcher
#                          (the clips), the watcher user and the motion-clips group.
#
# Python: numpy, OpenCV and PyAV are Raspberry Pi OS's own apt packages (python3-numpy, python3-opencv,
# python3-av; picamera2 and simplejpeg are built against that numpy), seen through a venv made with
# --system-site-packages. pip installs the project into it with --no-deps, never a numpy, OpenCV or PyAV
# wheel: one would shadow the system's and break picamera2 ("numpy.dtype size changed"); then, from PyPI,
# requirements-watcher-pypi.txt (pydantic: Debian 12's is 1.10), none of which builds against numpy. Wheels an
# earlier version of this script put in the venv are removed (the venv is made again).
#
# Installed: /etc/systemd/system/{watcher.service,watcher-cleanup.service,watcher-cleanup.timer},
# /etc/motion-watcher/watcher.toml (only if absent: your edits are kept), /opt/motion-watcher/venv
# and /opt/motion-watcher/README.md (deploy/README.md),
# /etc/ssh/sshd_config.d/motion-watcher-sftp.conf, /etc/ssh/authorized_keys/inspector and the
# layout under /srv/motion-watcher made by lib-sftp-account.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib-sftp-account.sh
. "$HERE/lib-sftp-account.sh"

OPT_DIR=/opt/motion-watcher
VENV="$OPT_DIR/venv"
CONF_DIR=/etc/motion-watcher
UNIT_DIR=/etc/systemd/system
UNITS=(watcher.service watcher-cleanup.service watcher-cleanup.timer)
APT_PACKAGES=(python3-venv openssh-server)
PYTHON_APT_PACKAGES=(python3-numpy python3-opencv python3-av)  # the watcher's imports; + python3-picamera2
SHADOWING_MODULES=(numpy cv2 av)  # never pip-installed into the venv: they would hide the apt packages

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

ROOT="" KEY="" UNINSTALL=0 PY_DEPS=1
while (($#)); do
  case "$1" in
    --root) ROOT="$(realpath -m "${2:?--root needs a directory}")"; shift 2 ;;
    --inspector-key) KEY="$(realpath "${2:?--inspector-key needs a file}")"; shift 2 ;;
    --no-python-deps) PY_DEPS=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; mw_die "unknown option $1" ;;
  esac
done

export MW_ROOT="$ROOT"
if [[ -n "$ROOT" ]]; then
  export MW_ACCOUNTS=0
  mkdir -p "$ROOT"
else
  [[ "$(id -u)" == 0 ]] || mw_die "run as root (sudo), or give --root DIR"
fi
MW_CHANGED=0
mw_defaults
if [[ -n "$KEY" ]]; then mw_check_key "$KEY"; fi  # before anything is changed

real_system() { [[ -z "$ROOT" ]]; }

install_packages() {
  real_system || return 0
  local pkgs=("${APT_PACKAGES[@]}") missing=() p
  if ((PY_DEPS)); then
    pkgs+=("${PYTHON_APT_PACKAGES[@]}")
    if apt-cache show python3-picamera2 >/dev/null 2>&1; then
      pkgs+=(python3-picamera2)
    else
      mw_log "note: python3-picamera2 is not in this system's apt sources (not Raspberry Pi OS?):" \
        "the picamera2 source will not work; USB (device:N) and rtsp:// sources will"
    fi
  fi
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

# What pip builds the project from (pyproject.toml reads its dependencies from requirements-*.txt).
PROJECT_FILES=(pyproject.toml README.md requirements-watcher.txt requirements-watcher-pypi.txt requirements-inspector.txt
  requirements-test.txt
  watcher inspector shared)

# A digest of what pip would install: the venv is rebuilt only when it changes.
source_digest() {
  (cd "$SRC" && find "${PROJECT_FILES[@]}" -type f \
     ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum
   echo "python-deps=$PY_DEPS") | sha256sum | cut -d' ' -f1
}

# Modules an earlier install pip-installed into the venv, where they shadow the apt packages.
shadowing_wheels() {
  local m found=()
  for m in "${SHADOWING_MODULES[@]}"; do
    if compgen -G "$1/lib/python3*/site-packages/$m" >/dev/null; then found+=("$m"); fi
  done
  printf '%s\n' "${found[@]}"
}

install_venv() {
  local venv="$ROOT$VENV" stamp digest tmp shadowing
  shadowing="$(shadowing_wheels "$venv")"
  if [[ -n "$shadowing" ]]; then
    mw_log "removing $venv: it holds pip-installed $(echo "$shadowing" | tr '\n' ' ')that would shadow the apt packages"
    rm -rf "$venv"
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    mkdir -p "$ROOT$OPT_DIR"
    python3 -m venv --system-site-packages "$venv"  # numpy, OpenCV, PyAV, picamera2 and libcamera come from apt
    MW_CHANGED=1
    mw_log "created $venv"
  fi
  stamp="$venv/.motion-watcher-source"
  digest="$(source_digest)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$digest" ]] && return 0
  # Build from a copy: pip would otherwise leave build/ and *.egg-info in the source tree.
  tmp="$(mktemp -d)"
  (cd "$SRC" && cp -r "${PROJECT_FILES[@]}" "$tmp/")
  # --no-deps: numpy, OpenCV and PyAV are the apt packages above; the rest is requirements-watcher-pypi.txt.
  "$venv/bin/python" -m pip --quiet --disable-pip-version-check --no-input install --upgrade --no-deps "$tmp"
  if ((PY_DEPS)); then
    # (--no-warn-conflicts: pip cannot see the apt packages as wheels and would call them missing)
    "$venv/bin/python" -m pip --quiet --disable-pip-version-check --no-input install --no-warn-conflicts \
      -r "$tmp/requirements-watcher-pypi.txt"
  fi
  rm -rf "$tmp"
  shadowing="$(shadowing_wheels "$venv")"
  if [[ -n "$shadowing" ]]; then
    mw_die "pip put $(echo "$shadowing" | tr '\n' ' ')into $venv, where it would shadow the apt packages"
  fi
  printf '%s\n' "$digest" >"$stamp"
  MW_CHANGED=1
  mw_log "installed the project into $venv"
}

install_config() {
  local dst="$ROOT$CONF_DIR/watcher.toml"
  mkdir -p "$ROOT$CONF_DIR"
  if [[ ! -e "$dst" ]]; then
    mw_put_file "$HERE/watcher.toml" "$CONF_DIR/watcher.toml" 0644
  elif ! cmp -s "$HERE/watcher.toml" "$dst"; then
    mw_log "kept your $dst (the shipped default is $HERE/watcher.toml)"
  fi
  if ((PY_DEPS)); then  # the installed code must accept the config (imports numpy, cv2 and av)
    "$ROOT$VENV/bin/python" -c 'import sys; from watcher.config import load_config; load_config(sys.argv[1])' "$dst"
  fi
}

install_units() {
  local unit
  for unit in "${UNITS[@]}"; do
    mw_put_file "$HERE/$unit" "$UNIT_DIR/$unit" 0644
  done
  mw_put_file "$SRC/deploy/README.md" "$OPT_DIR/README.md" 0644  # the units' Documentation=
}

reload_sshd() {
  real_system || return 0
  /usr/sbin/sshd -t || mw_die "sshd rejects its configuration; not reloading (see above)"
  systemctl reload-or-restart ssh.service
}

# Last step of a real install: the watcher's own check of the camera, the Python stack, the data
# directory, the clock and the service, as the service's user. It reports; it does not fail the install.
run_doctor() {
  local cmd=("$VENV/bin/motion-watcher" doctor --config "$CONF_DIR/watcher.toml")
  if ! "$VENV/bin/python" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("watcher.doctor") is None)'; then
    mw_log "note: this version of the watcher has no 'doctor' command; skipped the final check"
    return 0
  fi
  mw_log "checking the installation: ${cmd[*]}"
  if runuser -u "$MW_WATCHER_USER" -- "${cmd[@]}"; then
    mw_log "motion-watcher doctor: no problem found"
  else
    mw_log "motion-watcher doctor found problems: fix each line it marked above, then check again with" \
      "sudo -u $MW_WATCHER_USER ${cmd[*]}"
  fi
}

do_install() {
  install_packages
  local before="$MW_CHANGED"
  mw_setup_sftp_account "$KEY"
  local sshd_changed=$((MW_CHANGED != before))
  install_venv
  install_config
  install_units
  if real_system; then
    if ((sshd_changed)); then reload_sshd; fi
    systemctl daemon-reload
    systemctl enable watcher.service watcher-cleanup.timer
    if ((MW_CHANGED)); then systemctl restart watcher.service; else systemctl start watcher.service; fi
    systemctl start watcher-cleanup.timer
    mw_log "done: systemctl status watcher.service; journalctl -u watcher.service -f"
    run_doctor
  elif ((MW_CHANGED)); then
    mw_log "laid down the files under $ROOT"
  else
    mw_log "nothing to change under $ROOT"
  fi
}

do_uninstall() {
  local unit
  if real_system; then
    systemctl disable --now watcher-cleanup.timer watcher.service 2>/dev/null || true
    systemctl stop watcher-cleanup.service 2>/dev/null || true
  fi
  for unit in "${UNITS[@]}"; do
    if [[ -e "$ROOT$UNIT_DIR/$unit" ]]; then rm -f "$ROOT$UNIT_DIR/$unit"; mw_log "removed $ROOT$UNIT_DIR/$unit"; fi
  done
  if real_system; then systemctl daemon-reload; fi
  local before="$MW_CHANGED"
  mw_remove_sftp_account
  if ((MW_CHANGED != before)); then reload_sshd; fi
  if [[ -e "$ROOT$OPT_DIR" ]]; then rm -rf "$ROOT$OPT_DIR"; mw_log "removed $ROOT$OPT_DIR"; fi
  local conf="$ROOT$CONF_DIR/watcher.toml"
  if [[ -f "$conf" ]] && cmp -s "$HERE/watcher.toml" "$conf"; then rm -f "$conf"; mw_log "removed $conf"; fi
  if [[ -f "$conf" ]]; then mw_log "kept $conf (you changed it)"; fi
  rmdir "$ROOT$CONF_DIR" 2>/dev/null || true
  mw_log "kept $ROOT$MW_CHROOT (the clips), the user $MW_WATCHER_USER and the group $MW_CLIPS_GROUP;" \
    "remove them with: rm -r $MW_CHROOT; userdel $MW_WATCHER_USER; groupdel $MW_CLIPS_GROUP"
}

if ((UNINSTALL)); then do_uninstall; else do_install; fi
