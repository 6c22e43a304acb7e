#!/usr/bin/env bash
# System packages `make run` needs beyond Python, installed only when missing and only when run as root
# (otherwise it says what to ask for; the portal then does not offer notebooks and jobs on this machine).
set -euo pipefail
missing=()
# Notebooks and jobs run in a bubblewrap sandbox (provisioning/sandbox/); without it they are not offered.
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "[portal] missing system packages: ${missing[*]} (ask an administrator: sudo apt-get install ${missing[*]});" \
      "until then notebooks and jobs on this machine are not offered." >&2
  fi
fi
