#!/usr/bin/env bash
# The main job of shopctl, end to end, on the embedded PostgreSQL with no configuration.
# Everything lives in .demo/ (config, session files, database); run it as often as you like.
set -euo pipefail
cd "$(dirname "$0")/.."
unset SHOPCTL_DATABASE_URL SHOPCTL_PROFILE
export SHOPCTL_CONFIG_DIR="$PWD/.demo/config"
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

step "migrate a fresh embedded database"
shopctl db reset --yes
shopctl db status

step "the catalog"
shopctl products list
