#!/bin/sh
# Makes sure the system tools Custody runs exist: nats-server (Debian package `nats-server`,
# /usr/sbin/nats-server), openssl (the dev launcher makes the broker's mTLS certificates with it)
# SoftHSM2 (Debian `softhsm2`: the PKCS#11 token the KEK tests, and a development HSM, use) and
# Chromium (Debian `chromium`: the headless browser the console test drives with playwright-core;
# checked only with the argument `test`, the launcher does not need it).
# Installs what is missing with apt-get when running as root; otherwise explains what to do.
set -e
missing=""
if ! [ -x /usr/sbin/nats-server ] && ! command -v nats-server >/dev/null 2>&1 && [ -z "$NATS_SERVER_BIN" ]; then
  missing="$missing nats-server"
fi
if ! command -v openssl >/dev/null 2>&1; then
  missing="$missing openssl"
fi
if ! [ -e /usr/lib/softhsm/libsofthsm2.so ]; then
  missing="$missing softhsm2"
fi
if [ "$1" = "test" ] && ! command -v chromium >/dev/null 2>&1; then
  missing="$missing chromium"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing the Debian packages:$missing" >&2
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  exit 0
fi
echo "missing:$missing. Install them (sudo apt-get install$missing) or set NATS_SERVER_BIN." >&2
exit 1
