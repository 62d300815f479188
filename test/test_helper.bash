# Shared helpers for the bats suites. Every server a test starts listens on
# loopback, on a free port, and is stopped by the test file that started it.

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# The binary under test; the sanitizer run sets SOCKS4D=$TOP/socks4d-san.
SOCKS4D=${SOCKS4D:-$TOP/socks4d}
# Debian's packaged Python modules (pyftpdlib) live with /usr/bin/python3.
PYTHON=/usr/bin/python3
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

die() { echo "$*" >&2; return 1; }

# pick_port LOW COUNT: a port in [LOW, LOW+COUNT) that no TCP socket uses now.
pick_port() {
	local p hex
	while :; do
		p=$(($1 + RANDOM % $2))
		printf -v hex ':%04X ' "$p"
		grep -qF "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || break
	done
	echo "$p"
}

# free_port: a port for a server. Below the ephemeral range (32768 and up),
# so no outgoing connection (the load tests make thousands) can take it
# between this check and the server's bind.
free_port() { pick_port 10000 10000; }

# kill_pids PID...: stop and reap each process this test file started.
kill_pids() {
	local p
	for p in "$@"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	return 0
}

# no_sanitizer_reports LOG: ASan/UBSan wrote nothing (the sanitizer run).
no_sanitizer_reports() {
	if grep -nE 'runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer' "$1"; then
		die "sanitizer reports in $1"
	fi
	return 0
}

# start_peer NAME MODE ADDR [peer.py options]: a destination server
# (test/peer.py) on a free port, waited for through its --ready file (a
# blackhole cannot be probed by connecting).  Exports NAME_PORT and NAME_PID.
start_peer() {
	local name=$1 mode=$2 addr=$3 port ready tries=200
	shift 3
	port=$(free_port)
	ready=$BATS_FILE_TMPDIR/$name.ready
	rm -f "$ready"
	"$PYTHON" "$BATS_TEST_DIRNAME/peer.py" "$mode" "$addr" "$port" --ready "$ready" "$@" \
		</dev/null >/dev/null 2>>"$BATS_FILE_TMPDIR/peer.log" 3>&- &
	declare -gx "${name}_PID=$!" "${name}_PORT=$port"
	while [ ! -s "$ready" ] && (( tries-- > 0 )); do sleep 0.05; done
	[ -s "$ready" ] || die "$mode peer on $addr:$port did not start: $(tail -5 "$BATS_FILE_TMPDIR/peer.log")"
}

# wait_for_port HOST PORT [SECONDS]: until something accepts there.
wait_for_port() {
	local host=$1 port=$2 tries=$(( ${3:-10} * 20 ))
	while (( tries-- > 0 )); do
		if "$PYTHON" - "$host" "$port" <<'PY' 2>/dev/null; then return 0; fi
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
PY
		sleep 0.05
	done
	die "nothing listens on $host:$port"
}

# wait_for_file FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN.
wait_for_log() {
	local file=$1 pattern=$2 tries=$(( ${3:-10} * 20 ))
	while (( tries-- > 0 )); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	die "no line matching '$pattern' in $file"
}

# start_socks4d CONF [ARGS...]: socks4d under systemd-socket-activate, the
# stand-in for systemd's Accept=yes. Sets SOCKS_PORT, SOCKS_PID, SOCKS_LOG.
start_socks4d() {
	local conf=$1; shift
	SOCKS_PORT=$(free_port)
	SOCKS_LOG=${SOCKS_LOG:-$BATS_FILE_TMPDIR/socks4d.log}
	systemd-socket-activate -a --inetd -l "127.0.0.1:$SOCKS_PORT" \
		"$SOCKS4D" -c "$conf" "$@" 2>>"$SOCKS_LOG" 3>&- &
	SOCKS_PID=$!
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
	wait_for_port 127.0.0.1 "$SOCKS_PORT"
}

stop_socks4d() {
	[ -n "${SOCKS_PID:-}" ] && kill "$SOCKS_PID" 2>/dev/null && wait "$SOCKS_PID" 2>/dev/null
	SOCKS_PID=
	return 0
}

# start_http ADDR DIR: a real HTTP server (Python's http.server) on ADDR.
# Sets HTTP_ADDR, HTTP_PORT, HTTP_PID; its access log is $BATS_FILE_TMPDIR/http.log.
start_http() {
	HTTP_ADDR=$1
	HTTP_PORT=$(free_port)
	"$PYTHON" -m http.server --bind "$HTTP_ADDR" --directory "$2" "$HTTP_PORT" \
		>/dev/null 2>>"$BATS_FILE_TMPDIR/http.log" 3>&- &
	HTTP_PID=$!
	export HTTP_ADDR HTTP_PORT HTTP_PID
	wait_for_port "$HTTP_ADDR" "$HTTP_PORT"
}

stop_http() {
	[ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
	HTTP_PID=
	return 0
}

# socks_raw PORT HEXBYTES: send raw bytes to socks4d, print the reply in hex.
socks_raw() {
	printf "$2" | timeout 15 socat -t 3 - "TCP:127.0.0.1:$1" | od -An -tx1 | tr -d ' \n'
}
