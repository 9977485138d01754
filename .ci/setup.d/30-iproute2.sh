#!/bin/sh
# ip and tc for the namespace test network (internal/testnet, e2e/testnet_test.go).
set -eu
if command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "30-iproute2: ip or tc is missing; install them as root: apt-get install -y iproute2" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends iproute2 >/dev/null
