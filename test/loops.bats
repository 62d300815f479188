#!/usr/bin/env bats
# A client must not be able to chain socks4d into itself: a CONNECT to the
# port socks4d serves on, at any address of this host, is rejected before
# any connect, so pipelined self-requests cost one process, not one each.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper
bats_require_minimum_version 1.5.0

setup_file() {
	# The firewall permits all of loopback: only socks4d's own check stands
	# between a client and a chain.
	printf 'permit c 127.0.0.0/8\npermit c ::1\n' \
		>"$BATS_FILE_TMPDIR/socks.conf"
	start_peer ECHO echo 127.0.0.2
	start_socks4d "$BATS_FILE_TMPDIR/socks.conf"
}

teardown() {
	rm -rf "${PUBLIC:-}"
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID"
}

# spawned: how many sessions the super-server has started so far.
spawned() { grep -c '^Spawned ' "$SOCKS_LOG" || true; }

# socks4_to HOST PORT [NAME]: a SOCKS4 (or, with NAME, SOCKS4a) CONNECT
# request as hex.
socks4_to() {
	local ip=$1
	[ -z "${3:-}" ] || ip=0.0.0.1
	hex "$(req 1 "$2" "$ip" u "${3:-}")"
}

# chain HEX: send HEX in one write and half-close, read until the end;
# prints what came back, in hex.
chain() {
	"$PYTHON" - "$SOCKS_PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(bytes.fromhex(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(got.hex())
PY
}

# which says why
@test "a pipelined chain of 40 self-requests starts one session" {
	local one reqs= i before
	one=$(socks4_to 127.0.0.1 "$SOCKS_PORT")
	for i in $(seq 40); do reqs+=$one; done
	before=$(spawned)
	run -0 chain "${reqs}$(hex hello)"
	[ "$output" = "005b$(hex4 "$SOCKS_PORT")7f000001" ]
	wait_for_log "$SOCKS_LOG" '^<Reason> :destination is socks4d itself$'
	[ "$(( $(spawned) - before ))" -eq 1 ]
	# nothing is left once the client has gone
	local tries=100
	while [ -n "$(pgrep -P "$SOCKS_PID")" ] &&
		(( tries-- > 0 )); do sleep 0.05; done
	[ -z "$(pgrep -P "$SOCKS_PID")" ] ||
		die "left behind: $(pgrep -a -P "$SOCKS_PID")"
	[ "$(( $(spawned) - before ))" -eq 1 ]
}

@test "socks4d's port at another loopback address, or by name, is socks4d too" {
	local dst before said
	before=$(spawned)
	said=$(grep -c '^<Reason> :destination is socks4d itself$' \
		"$SOCKS_LOG" || true)
	for dst in "127.0.0.2 $SOCKS_PORT" "127.9.9.9 $SOCKS_PORT" \
		"x $SOCKS_PORT localhost"; do
		set -- $dst
		run -0 chain "$(socks4_to "$1" "$2" "${3:-}")"
		[ "${output:0:4}" = 005b ] || die "$dst: $output"
	done
	[ "$(( $(spawned) - before ))" -eq 3 ]
	[ "$(( $(grep -c '^<Reason> :destination is socks4d itself$' \
		"$SOCKS_LOG") - said ))" -eq 3 ]
}

@test "the same address at another port is relayed as usual" {
	run -0 chain "$(socks4_to 127.0.0.2 "$ECHO_PORT")$(hex ping)"
	[ "$output" = "005a$(hex4 "$ECHO_PORT")7f000002$(hex ping)" ]
}

# not only the one reached
@test "listener mode: a CONNECT to any port socks4d listens on is refused" {
	local p1 p2 pid log=$BATS_TEST_TMPDIR/listener.log
	p1=$(free_port)
	p2=$(free_port)
	# Started as root, the listener's sessions run as nobody: socks.conf
	# where nobody can read it.
	PUBLIC=$(mktemp -d /tmp/socks4d-loops.XXXXXX)
	chmod 755 "$PUBLIC"
	install -m 644 "$BATS_FILE_TMPDIR/socks.conf" "$PUBLIC/socks.conf"
	"$SOCKS4D" -c "$PUBLIC/socks.conf" -l "127.0.0.1:$p1" \
		-l "127.0.0.2:$p2" \
		</dev/null 2>"$log" 3>&- &
	pid=$!
	wait_for_port 127.0.0.1 "$p1"
	SOCKS_PORT=$p1 run -0 chain "$(socks4_to 127.0.0.2 "$p2")"
	[ "$output" = "005b$(hex4 "$p2")7f000002" ]
	# and so is its other address at the same port, by name too
	SOCKS_PORT=$p1 run -0 chain "$(socks4_to x "$p2" localhost)"
	[ "${output:0:4}" = 005b ]
	kill_pids "$pid"
	[ "$(grep -c "^<Reason> :destination is socks4d itself$" "$log")" \
		-eq 2 ] || die "$(cat "$log")"
}
