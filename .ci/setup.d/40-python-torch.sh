#!/usr/bin/env bash
# PyTorch on CPU from Debian (python3-torch), for the CNN benchmark against
# PyTorch (trainer/bench) and the PyTorch example tasklet. It lands in the
# system interpreter, /usr/bin/python3, whatever python3 is first on PATH.
set -euo pipefail
if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: PyTorch is missing; install it: sudo apt-get install python3-torch" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends python3-torch >/dev/null 2>&1 ||
  { apt-get update >/dev/null && apt-get install -y --no-install-recommends python3-torch >/dev/null; }
/usr/bin/python3 -c 'import torch' >/dev/null
