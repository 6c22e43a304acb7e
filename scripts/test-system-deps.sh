#!/usr/bin/env bash
# System packages the test suite needs beyond Python (installed only when missing; needs root or sudo).
set -euo pipefail
missing=()
# Nothing yet: browser tests add chromium here.
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
