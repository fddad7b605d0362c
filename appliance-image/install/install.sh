#!/usr/bin/env bash
# Installs a Nearstream appliance on Debian 12 or Ubuntu 24.04, from the unpacked appliance bundle
# this script sits in (the image keeps a copy of the bundle in /opt/nearstream, so the node can
# rerun it at first boot): packages, the Node.js runtime, the agent, the nginx edge, the agent's user
# and directories, and the systemd units. With --settings (the node's node.json, from cloud-init
# user data, a NoCloud seed or the operator) it also configures and enables the node.
#
# Idempotent: it changes only what differs, says what it changed, and ends with
# "nearstream-install: no change" when there was nothing to do.
#
#   install.sh [--settings /etc/nearstream/node.json] [--node-tarball node-v20.x-linux-<arch>.tar.xz --node-sha256 <hex>]
set -euo pipefail

BUNDLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SETTINGS=""
NODE_TARBALL=""
NODE_SHA256=""
while [ $# -gt 0 ]; do
  case "$1" in
    --settings) SETTINGS="$2"; shift 2 ;;
    --node-tarball) NODE_TARBALL="$2"; shift 2 ;;
    --node-sha256) NODE_SHA256="$2"; shift 2 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

CHANGES=0
changed() { CHANGES=$((CHANGES + 1)); echo "nearstream-install: $*"; }
fail() { echo "nearstream-install: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root"
. /etc/os-release
case "${ID}:${VERSION_ID}" in
  debian:12 | ubuntu:24.04) ;;
  *) fail "unsupported system ${PRETTY_NAME:-unknown}: Debian 12 or Ubuntu 24.04 is needed" ;;
esac
for file in agent/nearstream-agent.js nginx/token.js nginx/renditions.js nginx/nearstream-edge.conf.template systemd/nearstream-configure.service; do
  [ -f "$BUNDLE/$file" ] || fail "the bundle at $BUNDLE lacks $file"
done
if [ -n "$SETTINGS" ] && [ ! -f "$SETTINGS" ]; then
  fail "settings file $SETTINGS does not exist"
fi

# Packages.
missing=()
for package in nginx libnginx-mod-http-js ca-certificates; do
  # No `grep -q` after a pipe here: with pipefail, its early exit can kill the writer with SIGPIPE
  # and fail the pipeline at random (under load), which `set -e` turns into a silent exit.
  [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  changed "installed ${missing[*]}"
fi

# Node.js 20 or later: the SDK the agent bundles needs it, and neither distribution ships it.
NODE=/opt/nearstream/node/bin/node
if [ -n "$NODE_TARBALL" ]; then
  [ -n "$NODE_SHA256" ] || fail "--node-tarball needs --node-sha256"
  echo "$NODE_SHA256  $NODE_TARBALL" | sha256sum --check --status || fail "$NODE_TARBALL does not match --node-sha256"
  wanted="$(tar -tf "$NODE_TARBALL" | awk -F/ 'NR == 1 { print $1 }')"
  if [ "$(cat /opt/nearstream/node/.release 2>/dev/null || true)" != "$wanted" ]; then
    rm -rf /opt/nearstream/node.new
    mkdir -p /opt/nearstream/node.new
    tar -xf "$NODE_TARBALL" -C /opt/nearstream/node.new --strip-components=1
    echo "$wanted" > /opt/nearstream/node.new/.release
    rm -rf /opt/nearstream/node
    mv /opt/nearstream/node.new /opt/nearstream/node
    changed "installed Node.js $wanted"
  fi
elif [ ! -x "$NODE" ]; then
  NODE="$(command -v node || true)"
fi
[ -n "$NODE" ] && [ -x "$NODE" ] || fail "no Node.js: pass --node-tarball with an official Node.js 20+ release for this machine"
major="$("$NODE" -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 20 ] || fail "Node.js $("$NODE" --version) at $NODE is too old: 20 or later is needed"

# The agent's user, and www-data (nginx) in its group so nginx reads the key ring.
if ! id nearstream >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/nearstream --no-create-home --shell /usr/sbin/nologin nearstream
  changed "created user nearstream"
fi
if ! [[ " $(id -nG www-data) " == *" nearstream "* ]]; then
  usermod -a -G nearstream www-data
  changed "added www-data to group nearstream"
fi

ensure_dir() { # path owner group mode
  if [ "$(stat -c '%U:%G:%a' "$1" 2>/dev/null || true)" != "$2:$3:$4" ]; then
    install -d -o "$2" -g "$3" -m "$4" "$1"
    changed "directory $1"
  fi
}
ensure_dir /opt/nearstream root root 755
ensure_dir /opt/nearstream/agent root root 755
ensure_dir /opt/nearstream/nginx root root 755
ensure_dir /opt/nearstream/systemd root root 755
ensure_dir /etc/nearstream root nearstream 750
ensure_dir /var/cache/nearstream nearstream nearstream 755
ensure_dir /var/lib/nearstream nearstream nearstream 750
ensure_dir /var/lib/nearstream/keyring nearstream nearstream 750

ensure_file() { # source target mode
  if ! cmp -s "$1" "$2" || [ "$(stat -c '%a' "$2")" != "$3" ]; then
    install -o root -g root -m "$3" "$1" "$2"
    changed "file $2"
  fi
}
ensure_file "$BUNDLE/agent/nearstream-agent.js" /opt/nearstream/agent/nearstream-agent.js 644
ensure_file "$BUNDLE/nginx/token.js" /opt/nearstream/nginx/token.js 644
ensure_file "$BUNDLE/nginx/renditions.js" /opt/nearstream/nginx/renditions.js 644
ensure_file "$BUNDLE/nginx/nearstream-edge.conf.template" /opt/nearstream/nginx/nearstream-edge.conf.template 644
ensure_file "$BUNDLE/systemd/nearstream-configure.service" /opt/nearstream/systemd/nearstream-configure.service 644
ensure_file "$BUNDLE/systemd/nearstream-configure.service" /etc/systemd/system/nearstream-configure.service 644
ensure_file "$BUNDLE/install.sh" /opt/nearstream/install.sh 755
wrapper="$(mktemp)"
trap 'rm -f "$wrapper"' EXIT
printf '#!/bin/sh\nexec %s /opt/nearstream/agent/nearstream-agent.js "$@"\n' "$NODE" > "$wrapper"
ensure_file "$wrapper" /usr/local/bin/nearstream-agent 755

systemd_running() { [ -d /run/systemd/system ]; }
enable_unit() {
  if ! systemctl is-enabled --quiet "$1" 2>/dev/null; then
    systemctl enable --quiet "$1"
    changed "enabled $1"
  fi
}
# First boot: configures the node once cloud-init (or the operator) has written node.json.
enable_unit nearstream-configure.service

if [ -n "$SETTINGS" ]; then
  # The agent validates the settings before it writes anything; only accepted settings are kept.
  configured="$("$NODE" /opt/nearstream/agent/nearstream-agent.js configure --settings "$SETTINGS" --node "$NODE" 2>&1)" ||
    fail "nothing was configured: $configured"
  while read -r file; do
    [ -n "$file" ] && changed "configured $file"
  done <<< "$configured"
  if [ "$(readlink -f "$SETTINGS")" != /etc/nearstream/node.json ]; then
    ensure_file "$SETTINGS" /etc/nearstream/node.json 640
  fi
  for file in /etc/nearstream/node.json /etc/nearstream/agent.json; do
    if [ "$(stat -c '%G:%a' "$file")" != "nearstream:640" ]; then
      chgrp nearstream "$file" && chmod 640 "$file"
      changed "permissions of $file"
    fi
  done
  if [ -e /etc/nginx/sites-enabled/default ]; then
    rm -f /etc/nginx/sites-enabled/default
    changed "removed nginx's default site"
  fi
  nginx -t -q || fail "nginx rejects the configuration"
  systemd_running && systemctl daemon-reload
  enable_unit nginx.service
  enable_unit nearstream-agent.service
  enable_unit nearstream-fill.timer
  if systemd_running && [ "$CHANGES" -gt 0 ]; then
    systemctl reload-or-restart nginx.service
    systemctl --no-block restart nearstream-agent.service
    systemctl --no-block start nearstream-fill.timer
  fi
fi

if [ "$CHANGES" -eq 0 ]; then
  echo "nearstream-install: no change"
else
  echo "nearstream-install: $CHANGES changes"
fi
