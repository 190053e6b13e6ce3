#!/usr/bin/env bash
# CPU per request of a local cluster's five nodes under one throughput workload.
#
#   Benchmarks/cpu-per-request.sh PYGMY_BINARY WORKLOAD [CLIENTS] [SECONDS]
#
# Starts a cluster with `pygmy cluster up --detach`, warms it up for a second, then sums the nodes'
# user+system CPU time (/proc/PID/stat) and voluntary context switches (/proc/PID/task/*/status)
# around `pygmy bench --cluster DIR --only throughput --workloads WORKLOAD`, and divides by the
# requests served. WORKLOAD is lookup, buy or mix. CPU per request is steadier than requests/s on a
# shared machine, though contention still moves it by about 10%. Linux only.
set -euo pipefail
binary=${1:?usage: $0 PYGMY_BINARY WORKLOAD [CLIENTS] [SECONDS]}
workload=${2:?usage: $0 PYGMY_BINARY WORKLOAD [CLIENTS] [SECONDS]}
clients=${3:-10}
seconds=${4:-5}
dir=$(mktemp -d /tmp/pygmy-cpu-XXXXXX)
trap '"$binary" cluster down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$binary" cluster up --dir "$dir" --detach --base-port "${PYGMY_CPU_BASE_PORT:-7900}" >/dev/null

pids() { cat "$dir"/pids/*.pid; }
cpu_ticks() {
    local total=0 pid
    for pid in $(pids); do
        read -r utime stime < <(cut -d' ' -f14,15 "/proc/$pid/stat")
        total=$((total + utime + stime))
    done
    echo "$total"
}
switches() {
    cat $(for pid in $(pids); do echo /proc/"$pid"/task/*/status; done) 2>/dev/null |
        awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'
}
bench() {
    "$binary" bench --cluster "$dir" --only throughput --workloads "$workload" \
        --throughput-clients "$clients" --duration "$1" --out "$dir/out" 2>/dev/null
}

bench 1 >/dev/null
ticks0=$(cpu_ticks)
switches0=$(switches)
row=$(bench "$seconds" | grep -E '^(lookups|buys|mix)')
ticks1=$(cpu_ticks)
switches1=$(switches)
# Rows: "<workload words> clients seconds req/s p50 p99 errors": count from the end.
read -r secs rate p50 < <(echo "$row" | awk '{ print $(NF-4), $(NF-3), $(NF-2) }')
awk -v ticks=$((ticks1 - ticks0)) -v hz="$(getconf CLK_TCK)" -v rate="$rate" -v secs="$secs" \
    -v sw=$((switches1 - switches0)) -v w="$workload" -v c="$clients" -v p50="$p50" 'BEGIN {
    n = rate * secs
    printf "%s, %d clients: %d req/s, p50 %d µs; nodes: %.0f µs CPU and %.1f context switches per request\n",
        w, c, rate, p50, ticks / hz * 1e6 / n, sw / n
}'
