#!/usr/bin/env bash
# The inspector's restricted SFTP account on the Pi and the directory layout it needs.
#
# This is the ONE place that creates them: install.sh sources this file, and the tests run it
# (tests/integration/test_deploy_sftp_account.py starts a real sshd on what it lays down).
#
#   lib-sftp-account.sh setup [PUBKEY_FILE]   users, directories, sshd drop-in, authorized key
#   lib-sftp-account.sh remove                drop-in, authorized key, the SFTP user; keeps the clips
#
# Settings (environment; the defaults are the Pi's). Every path written is prefixed with
# $MW_ROOT; file contents name the paths as the target system sees them.
#   MW_ROOT=""                 install into this directory as if it were /
#   MW_CHROOT=/srv/motion-watcher      sshd ChrootDirectory of the SFTP user
#   MW_SSH_DIR=/etc/ssh
#   MW_WATCHER_USER=watcher    MW_SFTP_USER=inspector    MW_CLIPS_GROUP=motion-clips
#   MW_ACCOUNTS=1              0: create no users or groups and chown nothing (install.sh --root)
#
# Layout (what sshd and the two users need):
#   $MW_CHROOT                     root:root                0755  every component root-owned and not
#                                                                 group/other-writable, or sshd refuses
#   $MW_CHROOT/data                watcher:motion-clips    2750  the watcher's data_dir: status.json, lock
#   $MW_CHROOT/data/temp_clips     watcher:motion-clips    2700  clips being written (inspector: no access)
#   $MW_CHROOT/data/recorded_clips watcher:motion-clips    2770  finished clips: the inspector reads them
#   $MW_CHROOT/data/transferred    watcher:motion-clips    2770    and renames them here, or deletes them
# The set-group-id bit gives every file the watcher creates the group motion-clips; the
# watcher's UMask=0027 makes it group-readable and not group-writable: the inspector can read,
# move and delete clips (directory write permission) but never change a clip's bytes, and the
# sshd drop-in serves it no mkdir (so transferred/ is made here, never by the inspector).
# The SFTP user has password '*' (no password can match, yet sshd does not count the account as
# locked, which '!' is when UsePAM is off), shell nologin, and home = the chroot.
# shellcheck shell=bash

MW_MARKER="motion-watcher SFTP account (inspector)"
MW_DROPIN_NAME="motion-watcher-sftp.conf"
MW_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

mw_log() { printf '%s\n' "$*" >&2; }
mw_die() { mw_log "error: $*"; exit 1; }

mw_defaults() {
  MW_ROOT="${MW_ROOT:-}"
  MW_ROOT="${MW_ROOT%/}"
  MW_CHROOT="${MW_CHROOT:-/srv/motion-watcher}"
  MW_SSH_DIR="${MW_SSH_DIR:-/etc/ssh}"
  MW_WATCHER_USER="${MW_WATCHER_USER:-watcher}"
  MW_SFTP_USER="${MW_SFTP_USER:-inspector}"
  MW_CLIPS_GROUP="${MW_CLIPS_GROUP:-motion-clips}"
  MW_ACCOUNTS="${MW_ACCOUNTS:-1}"
  MW_CHANGED="${MW_CHANGED:-0}"
  local name path
  for name in "$MW_WATCHER_USER" "$MW_SFTP_USER" "$MW_CLIPS_GROUP"; do
    [[ "$name" =~ ^[a-z_][a-z0-9_-]{0,30}$ ]] || mw_die "bad user or group name: $name"
  done
  for path in "$MW_CHROOT" "$MW_SSH_DIR"; do
    [[ "$path" =~ ^/[A-Za-z0-9_./-]*$ && "$path" != */ ]] || mw_die "bad path (absolute, plain characters): $path"
  done
  MW_DATA="$MW_CHROOT/data"
}

# mw_put_file SRC DST MODE: write DST (under $MW_ROOT) only if its content or mode differs.
mw_put_file() {
  local src="$1" dst="$MW_ROOT$2" mode="$3"
  mkdir -p "$(dirname "$dst")"
  if [[ -f "$dst" ]] && cmp -s "$src" "$dst"; then
    if [[ "$(stat -c %a "$dst")" != "${mode#0}" ]]; then chmod "$mode" "$dst"; MW_CHANGED=1; fi
    return 0
  fi
  local tmp
  tmp="$(mktemp "$dst.XXXXXX")"
  cat "$src" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dst"
  MW_CHANGED=1
  mw_log "wrote $dst"
}

# mw_dir PATH MODE OWNER GROUP: create or fix a directory (under $MW_ROOT); owner only with accounts.
mw_dir() {
  local dir="$MW_ROOT$1" mode="$2" owner="$3" group="$4"
  [[ -L "$dir" ]] && mw_die "$dir is a symlink"
  [[ -d "$dir" ]] || { mkdir -p "$dir"; MW_CHANGED=1; mw_log "created $dir"; }
  if [[ "$MW_ACCOUNTS" == 1 && "$(stat -c %U:%G "$dir")" != "$owner:$group" ]]; then
    chown "$owner:$group" "$dir"
  fi
  [[ "$(stat -c %a "$dir")" == "${mode#0}" ]] || chmod "$mode" "$dir"
}

mw_in_group() { id -nG "$1" | tr ' ' '\n' | grep -qxF "$2"; }

mw_accounts() {
  [[ "$MW_ACCOUNTS" == 1 ]] || return 0
  getent group "$MW_CLIPS_GROUP" >/dev/null || groupadd --system "$MW_CLIPS_GROUP"
  if ! getent passwd "$MW_WATCHER_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment "motion-watcher camera service" "$MW_WATCHER_USER"
    mw_log "created user $MW_WATCHER_USER"
  fi
  local group
  for group in video "$MW_CLIPS_GROUP"; do
    if getent group "$group" >/dev/null && ! mw_in_group "$MW_WATCHER_USER" "$group"; then
      usermod --append --groups "$group" "$MW_WATCHER_USER"
    fi
  done
  if ! getent passwd "$MW_SFTP_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir "$MW_CHROOT" --shell /usr/sbin/nologin \
      --comment "$MW_MARKER" "$MW_SFTP_USER"
    mw_log "created user $MW_SFTP_USER"
  fi
  mw_in_group "$MW_SFTP_USER" "$MW_CLIPS_GROUP" || usermod --append --groups "$MW_CLIPS_GROUP" "$MW_SFTP_USER"
  if [[ "$(getent shadow "$MW_SFTP_USER" | cut -d: -f2)" != "*" ]]; then
    usermod --password '*' "$MW_SFTP_USER"
  fi
}

# sshd refuses a ChrootDirectory unless every component is root-owned and not group/other-writable.
mw_check_chroot_path() {
  local p="$MW_ROOT$MW_CHROOT"
  while [[ -n "$p" ]]; do
    if [[ -e "$p" ]]; then
      local st
      st="$(stat -L -c '%u %a' "$p")"
      [[ "${st%% *}" == 0 ]] || mw_die "$p must be owned by root for sshd's ChrootDirectory"
      (( (8#${st##* } & 8#022) == 0 )) || mw_die "$p must not be group/other-writable for sshd's ChrootDirectory"
    fi
    p="${p%/*}"
  done
}

mw_layout() {
  local w="$MW_WATCHER_USER" g="$MW_CLIPS_GROUP"
  mw_dir "$MW_CHROOT" 0755 root root
  mw_dir "$MW_DATA" 2750 "$w" "$g"
  mw_dir "$MW_DATA/temp_clips" 2700 "$w" "$g"
  mw_dir "$MW_DATA/recorded_clips" 2770 "$w" "$g"
  mw_dir "$MW_DATA/transferred" 2770 "$w" "$g"
  if [[ "$MW_ACCOUNTS" == 1 ]]; then mw_check_chroot_path; fi
}

# The drop-in shipped in sshd_config.d/ names the Pi's defaults; other settings are substituted.
mw_render_dropin() {
  sed -e "s|^Match User inspector\$|Match User $MW_SFTP_USER|" \
      -e "s|^\\([[:space:]]*ChrootDirectory\\) /srv/motion-watcher\$|\\1 $MW_CHROOT|" \
      -e "s|/etc/ssh/authorized_keys/%u|$MW_SSH_DIR/authorized_keys/%u|" \
      "$MW_LIB_DIR/sshd_config.d/$MW_DROPIN_NAME"
}

mw_dropin() {
  local tmp
  tmp="$(mktemp)"
  mw_render_dropin >"$tmp"
  mkdir -p "$MW_ROOT$MW_SSH_DIR/sshd_config.d"
  mw_put_file "$tmp" "$MW_SSH_DIR/sshd_config.d/$MW_DROPIN_NAME" 0644
  rm -f "$tmp"
}

# mw_check_key FILE: exactly one bare OpenSSH public key (no options), or die.
mw_check_key() {
  local keyfile="$1" lines type
  [[ -r "$keyfile" ]] || mw_die "cannot read the inspector's public key $keyfile"
  lines="$(grep -cvE '^[[:space:]]*(#|$)' "$keyfile" || true)"
  [[ "$lines" == 1 ]] || mw_die "$keyfile must hold exactly one public key (found $lines lines)"
  ssh-keygen -l -f "$keyfile" >/dev/null 2>&1 || mw_die "$keyfile is not an OpenSSH public key"
  read -r type _ < <(grep -vE '^[[:space:]]*(#|$)' "$keyfile")
  [[ "$type" =~ ^(ssh-|ecdsa-|sk-) ]] || mw_die "$keyfile: key options are not accepted, give the bare public key"
}

# mw_authorized_key FILE: one public key, written as a 'restrict' line (no forwarding, no pty, ...).
mw_authorized_key() {
  local keyfile="$1" type b64 comment tmp
  mw_check_key "$keyfile"
  read -r type b64 comment < <(grep -vE '^[[:space:]]*(#|$)' "$keyfile")
  tmp="$(mktemp)"
  printf 'restrict %s %s %s\n' "$type" "$b64" "${comment:-inspector}" >"$tmp"
  mkdir -p "$MW_ROOT$MW_SSH_DIR/authorized_keys"
  chmod 0755 "$MW_ROOT$MW_SSH_DIR/authorized_keys"
  mw_put_file "$tmp" "$MW_SSH_DIR/authorized_keys/$MW_SFTP_USER" 0644
  rm -f "$tmp"
}

mw_setup_sftp_account() {
  mw_defaults
  mw_accounts
  mw_layout
  mw_dropin
  if [[ -n "${1:-}" ]]; then
    mw_authorized_key "$1"
  elif [[ ! -f "$MW_ROOT$MW_SSH_DIR/authorized_keys/$MW_SFTP_USER" ]]; then
    mw_log "note: no key for $MW_SFTP_USER yet (give --inspector-key FILE); nobody can log in as it"
  fi
}

# Removes the drop-in, the key and the SFTP user (only if we created it); keeps the data directory.
mw_remove_sftp_account() {
  mw_defaults
  local f
  for f in "$MW_SSH_DIR/sshd_config.d/$MW_DROPIN_NAME" "$MW_SSH_DIR/authorized_keys/$MW_SFTP_USER"; do
    if [[ -e "$MW_ROOT$f" ]]; then rm -f "$MW_ROOT$f"; MW_CHANGED=1; mw_log "removed $MW_ROOT$f"; fi
  done
  rmdir "$MW_ROOT$MW_SSH_DIR/authorized_keys" 2>/dev/null || true
  if [[ "$MW_ACCOUNTS" == 1 ]] && [[ "$(getent passwd "$MW_SFTP_USER" | cut -d: -f5)" == "$MW_MARKER" ]]; then
    userdel "$MW_SFTP_USER"
    mw_log "removed user $MW_SFTP_USER"
  fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  case "${1:-}" in
    setup) shift; mw_setup_sftp_account "$@" ;;
    remove) mw_remove_sftp_account ;;
    *) mw_die "usage: $0 setup [PUBKEY_FILE] | remove" ;;
  esac
fi
