#!/usr/bin/env bash
# Real-client compatibility checks against zoogate: starts `zoogate serve` on
# a free loopback port with a temporary data directory, runs the zkCli.sh
# transcript (tests/zkcli) and the Kazoo script (tests/kazoo) against it,
# checks the server is still healthy, stops it, and prints "N passed, M failed".
# Exit status 1 if anything failed. Every step runs under a timeout.
#
# Environment: STEP_TIMEOUT (seconds per step, default 300),
#              ZOOGATE_BIN (default bin/zoogate, built if missing).
set -uo pipefail
cd "$(dirname "$0")/.."

step_timeout="${STEP_TIMEOUT:-300}"
bin="${ZOOGATE_BIN:-bin/zoogate}"
python=/usr/bin/python3 # Debian's interpreter has python3-kazoo
passed=0
failed=0
failures=()

pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL $1"; }
finish() {
	[[ ${#failures[@]} -gt 0 ]] && echo "failed: ${failures[*]}"
	echo "$passed passed, $failed failed"
	[[ $failed -eq 0 ]]
	exit $?
}

# ruok HOST PORT: true when the server answers imok.
ruok() {
	local reply
	reply="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf ruok >&3 && cat <&3' "$1" "$2" 2>/dev/null)" || return 1
	[[ "$reply" == imok ]]
}

if [[ ! -x "$bin" ]]; then
	echo "== building $bin"
	if ! timeout "$step_timeout" go build -o "$bin" ./cmd/zoogate; then
		fail "build"
		finish
	fi
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/zoogate-clients.XXXXXX")"
server_pid=""
stop_server() {
	if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null
		for _ in $(seq 1 100); do # up to 10 s for a clean shutdown
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	server_pid=""
}
cleanup() {
	stop_server
	rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# Start the server on a free port (retried: the port may be taken between
# choosing it and binding it).
host=127.0.0.1
port=""
for attempt in 1 2 3; do
	port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
	"$bin" serve --client-addr "$host:$port" --data-dir "$work/data-$attempt" >"$work/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 1 100); do # up to 10 s
		ruok "$host" "$port" && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if ruok "$host" "$port"; then
		break
	fi
	echo "zoogate did not start on $host:$port (attempt $attempt):"
	tail -n 20 "$work/server.log"
	stop_server
done
if [[ -z "$server_pid" ]]; then
	fail "start zoogate"
	finish
fi
echo "== zoogate serving on $host:$port (data in $work)"

echo "== zkCli.sh transcript (tests/zkcli)"
if timeout --kill-after=10 "$step_timeout" bash tests/zkcli/zkcli.sh "$host:$port"; then
	pass "zkcli transcript"
else
	fail "zkcli transcript"
fi

echo "== Kazoo (tests/kazoo)"
timeout --kill-after=10 "$step_timeout" "$python" tests/kazoo/kazoo_test.py --hosts "$host:$port" | tee "$work/kazoo.out"
kazoo_status=${PIPESTATUS[0]}
summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$work/kazoo.out" | tail -n 1)"
if [[ -n "$summary" ]]; then
	read -r kp _ kf _ <<<"$summary"
	passed=$((passed + kp))
	failed=$((failed + kf))
	[[ $kf -gt 0 ]] && failures+=("kazoo:$(grep '^FAIL ' "$work/kazoo.out" | awk '{print $2}' | paste -sd, -)")
fi
if [[ -z "$summary" || ($kazoo_status -ne 0 && ${kf:-0} -eq 0) ]]; then
	fail "kazoo script (exit status $kazoo_status, no complete summary)"
fi

if ruok "$host" "$port" && kill -0 "$server_pid" 2>/dev/null; then
	pass "server still healthy"
else
	fail "server still healthy"
fi

stop_server
if grep -E '\[(ERROR)\]|panic:' "$work/server.log" >/dev/null; then
	fail "server log free of errors and panics"
	grep -E -A5 '\[(ERROR)\]|panic:' "$work/server.log" | head -n 40
else
	pass "server log free of errors and panics"
fi
if [[ $failed -gt 0 ]]; then
	echo "== last lines of the server log"
	tail -n 30 "$work/server.log"
fi
finish
