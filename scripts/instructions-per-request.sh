#!/usr/bin/env bash
# Counts the user-space instructions a wasio server spends per 1 KiB echo request, with
# valgrind's callgrind: repeatable where timings on a shared machine are not, so two builds can
# be compared (A/B) to within about 1%.
#
#   scripts/instructions-per-request.sh WASIO APP [REQUESTS] [CONNS] [-- APP ARGS]
#
# WASIO is the wasio binary (a release build); APP a server component or Python script that
# listens on 127.0.0.1 and prints its port on a line (`PORT n`, or `... 127.0.0.1:n`), e.g.
# bench/python/echo_server.py, or the echo-server example with `-- --port 0`. Each of CONNS
# connections (default 3) makes REQUESTS round trips (default 300) after a warm-up; only those
# are counted. Needs valgrind and python3.
set -euo pipefail
wasio=$1 app=$2
shift 2
requests=300 conns=3
if [[ $# -gt 0 && $1 != -- ]]; then requests=$1; shift; fi
if [[ $# -gt 0 && $1 != -- ]]; then conns=$1; shift; fi
[[ $# -gt 0 && $1 == -- ]] && shift
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/out" \
    "$wasio" run --allow-listen 127.0.0.1:0 "$app" -- "$@" >"$work/log" 2>&1 &
pid=$!
port=
for _ in $(seq 600); do
    port=$(grep -v '^==' "$work/log" | grep -m1 -oE '(PORT |127\.0\.0\.1:)[0-9]+' |
        grep -oE '[0-9]+$' || true)
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; echo "the server exited" >&2; exit 1; }
    sleep 0.5
done
[[ -n $port ]] || { cat "$work/log" >&2; echo "the server printed no port" >&2; exit 1; }
python3 "$here/pingpong_load.py" "$port" "$conns" 50 1024 >/dev/null
callgrind_control -i on "$pid" >/dev/null 2>&1
python3 "$here/pingpong_load.py" "$port" "$conns" "$requests" 1024 >/dev/null
callgrind_control -i off "$pid" >/dev/null 2>&1
kill "$pid"
wait "$pid" 2>/dev/null || true
total=$(grep -oE 'Collected : [0-9]+' "$work/log" | grep -oE '[0-9]+$' || true)
[[ -n $total ]] || { cat "$work/log" >&2; echo "callgrind reported no count" >&2; exit 1; }
echo "$(basename "$app"): $((total / (requests * conns))) instructions per request"
