#!/bin/sh
# Installs the npm packages settle/contracts needs (pinned solc, OpenZeppelin
# contracts and merkle-tree) from its package-lock.json, when node_modules is
# missing or older than the lockfile. Tests that recompile the contracts or
# regenerate Merkle vectors skip without them.
set -eu
dir=settle/contracts
if ! command -v npm >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && apt-get install -y -qq nodejs npm
	else
		echo "30-settle-npm: npm is missing; install Node.js 20 or newer (Debian: apt-get install nodejs npm)" >&2
		exit 1
	fi
fi
stamp=$dir/node_modules/.package-lock.json
if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ]; then
	exit 0
fi
(cd "$dir" && npm ci --no-audit --no-fund)
