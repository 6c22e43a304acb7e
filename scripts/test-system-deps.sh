#!/usr/bin/env bash
# System packages the test suite needs beyond Python (installed only when missing; needs root or sudo).
set -euo pipefail
missing=()
# The browser journeys (tests/e2e) drive Debian's Chromium with Playwright (Playwright's own download fails here).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# Notebooks and jobs on this machine run in a bubblewrap sandbox (provisioning/sandbox/).
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
# The Slurm tests (tests/slurm) start a real one-node Slurm cluster with its own munge daemon.
command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || missing+=(munge)
# promtool checks the alert rules and lints a scraped /metrics (tests/ops).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# The project generator's tests make template versions in a git repository (copier update).
command -v git >/dev/null 2>&1 || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
