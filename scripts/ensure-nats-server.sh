#!/bin/sh
# Makes sure a nats-server binary exists (Debian package `nats-server`, /usr/sbin/nats-server).
# Installs it with apt-get when running as root; otherwise explains what to do.
set -e
if [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || [ -n "$NATS_SERVER_BIN" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "nats-server not found: installing the Debian package" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  exit 0
fi
echo "nats-server not found. Install it (sudo apt-get install nats-server) or set NATS_SERVER_BIN." >&2
exit 1
