#!/usr/bin/env bash
# The main job of shopctl, end to end, on the embedded PostgreSQL with no configuration:
# migrate, create an admin, import the catalog, replay customers buying, run a short
# simulation, show the results, then simulate on two processes with a threshold and write
# the HTML report. Everything lives in .demo/ (config, sessions,
# database), or in $DEMO_DIR; run it as often as you like. The step titles are bold only
# on a terminal, and not with NO_COLOR set.
set -euo pipefail
cd "$(dirname "$0")/.."
unset SHOPCTL_DATABASE_URL SHOPCTL_PROFILE
export SHOPCTL_CONFIG_DIR="${DEMO_DIR:-$PWD/.demo}/config"
bold='' plain=''
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain" >&2; }
ADMIN_EMAIL=admin@demo.example
ADMIN_PASSWORD=demo-admin-password

step "migrate a fresh embedded database"
shopctl db reset --yes
shopctl db status

step "an admin (operator bootstrap, no session needed) logs in as profile 'admin'"
printf '%s\n' "$ADMIN_PASSWORD" | shopctl users create-admin --email "$ADMIN_EMAIL" --password-stdin
printf '%s\n' "$ADMIN_PASSWORD" | shopctl -p admin users login --email "$ADMIN_EMAIL" --password-stdin

step "import the catalog (examples/catalog.csv)"
shopctl -p admin products import examples/catalog.csv
shopctl products list

step "customers buy: replay examples/purchase.yaml"
shopctl replay examples/purchase.yaml

step "a short simulation: 20 shoppers, 4 workers, one hot SKU, declines and cancellations"
shopctl -p admin simulate --shoppers 20 --concurrency 4 --orders 200 --products 10 --stock 100 \
    --hot-skus 1 --decline-rate 0.1 --cancel-rate 0.1 --seed 7

step "reports: sales by day (the last 30 days) and the best sellers"
shopctl -p admin report sales --by day
shopctl -p admin report top-products --limit 5

step "results: orders, stock and the invariant audit"
shopctl -p admin order list --all
shopctl products list
shopctl -p admin audit

step "on two worker processes, with a threshold, and the HTML report (.demo/report.html)"
shopctl -p admin simulate --processes 2 --concurrency 4 --duration 5s --stock 1000 --hot-skus 1 \
    --decline-rate 0.1 --cancel-rate 0.1 --seed 7 --threshold 'pay.p95<500ms' \
    --html "${DEMO_DIR:-$PWD/.demo}/report.html"
