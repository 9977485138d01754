#!/usr/bin/env bash
# bubblewrap (bwrap) is the sandbox of the process executor: worker/process
# runs every program inside it. Debian package: bubblewrap.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: bubblewrap is missing; install it: sudo apt-get install bubblewrap" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends bubblewrap >/dev/null 2>&1 ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends bubblewrap >/dev/null; }
command -v bwrap >/dev/null
