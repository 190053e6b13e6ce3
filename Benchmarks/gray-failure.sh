#!/usr/bin/env bash
# Buys through a hung catalog replica: the p50 of one client's buys while the cluster is healthy, then
# with catalog-1 stopped by SIGSTOP (alive, connections accepted by its kernel, nothing answered) once
# a majority has left it out of the membership, in one run. Also how long the exclusion took.
#
#   Benchmarks/gray-failure.sh PYGMY_BINARY [SECONDS]
#
# Linux only (SIGSTOP, /proc). Prints one line per phase and the ratio.
set -euo pipefail
binary=${1:?usage: $0 PYGMY_BINARY [SECONDS]}
seconds=${2:-5}
dir=$(mktemp -d /tmp/pygmy-gray-XXXXXX)
stopped=""
cleanup() {
    [ -n "$stopped" ] && kill -CONT "$stopped" 2>/dev/null || true
    "$binary" cluster down --dir "$dir" >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
"$binary" cluster up --dir "$dir" --detach --base-port "${PYGMY_GRAY_BASE_PORT:-7950}" >/dev/null
"$binary" status --cluster "$dir" --wait --timeout 30 >/dev/null

# "buys  1  5.0  812  1234  4567  0": count from the end (clients seconds req/s p50 p99 errors).
p50() {
    "$binary" bench --cluster "$dir" --only throughput --workloads buy --throughput-clients 1 \
        --duration "$seconds" --out "$dir/out" 2>/dev/null | grep -E '^buys' | awk '{ print $(NF-2), $(NF-3) }'
}
members() {
    "$binary" status --cluster "$dir" --json 2>/dev/null |
        python3 -c 'import json,sys; s=json.load(sys.stdin); print(" ".join(next((n.get("membership") or {}).get("catalogs", []) for n in s["nodes"] if n["name"] == "order-1")))' 2>/dev/null || true
}

read -r healthy healthy_rate < <(p50)
echo "healthy: buy p50 ${healthy} µs (${healthy_rate} buys/s, 1 client)"

stopped=$(cat "$dir/pids/catalog-1.pid")
kill -STOP "$stopped"
began=$(date +%s%N)
until [ "$(members)" = "catalog-2" ]; do
    sleep 0.1
    if [ $(( ($(date +%s%N) - began) / 1000000000 )) -gt 30 ]; then echo "catalog-1 was not left out within 30 s"; exit 1; fi
done
excluded_ms=$(( ($(date +%s%N) - began) / 1000000 ))
echo "catalog-1 stopped (SIGSTOP): left out of the membership after ${excluded_ms} ms"
sleep 2  # the exclusion settles (the replica left out loses its read lease)

read -r hung hung_rate < <(p50)
echo "catalog-1 hung and left out: buy p50 ${hung} µs (${hung_rate} buys/s, 1 client)"
awk -v a="$hung" -v b="$healthy" 'BEGIN { printf "ratio (hung / healthy): %.2fx\n", a / b }'
