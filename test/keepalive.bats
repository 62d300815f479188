#!/usr/bin/env bats
# Dead peers: a destination that vanishes without a FIN or a reset (its
# host switched off, its link gone) must not hold a relay forever.  Two
# network namespaces of this test's own, joined by a veth pair: socks4d and
# its client in one, the destination in the other; the veth is deleted
# mid-session, and TCP keepalive (-K) ends the session within its budget.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=90
load test_helper
bats_require_minimum_version 1.5.0

setup_file() {
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	command -v ip >/dev/null || skip "no ip(8) (iproute2)"
	export NS_A=s4dka-a-$$ NS_B=s4dka-b-$$ VETH_A=s4dka$$a VETH_B=s4dka$$b
	ip netns add "$NS_A"
	ip netns add "$NS_B"
	ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" \
		netns "$NS_B"
	ip -n "$NS_A" addr add 10.213.7.1/30 dev "$VETH_A"
	ip -n "$NS_B" addr add 10.213.7.2/30 dev "$VETH_B"
	for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
	ip -n "$NS_A" link set "$VETH_A" up
	ip -n "$NS_B" link set "$VETH_B" up
	printf 'permit c 10.213.7.2\n' >"$BATS_FILE_TMPDIR/socks.conf"
}

teardown() {
	kill_pids "${CLIENT_PID:-}" "${SOCKS_PID:-}" "${PEER_PID:-}"
}

teardown_file() {
	[ -n "${NS_A:-}" ] || return 0
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
	return 0
}

# client SOCKSPORT PORT FILE: CONNECT through socks4d to the echo peer,
# check the echo, then wait for the end and print how many ms after FILE
# appeared it came.  Run as `ip netns exec "$NS_A" $PYTHON -c "$CLIENT"`.
CLIENT=$(cat <<'PY'
import os, socket, struct, sys, time
port, dport, gone = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=60)
s.sendall(struct.pack(">BBH4s", 4, 1, dport, socket.inet_aton("10.213.7.2"))
          + b"u\0ping")
got = b""
while len(got) < 12:
    got += s.recv(12 - len(got))
assert got[:2] == b"\x00\x5a" and got[8:] == b"ping", got
print("relaying", flush=True)
while not os.path.exists(gone):
    time.sleep(0.05)
t0 = time.monotonic()
while s.recv(1024):
    pass
print("ended after %d ms" % ((time.monotonic() - t0) * 1000), flush=True)
PY
)

# within the keepalive budget
@test "a destination that vanishes mid-session ends the relay (-K 2)" {
	local d=$BATS_FILE_TMPDIR port ms
	port=$(free_port)
	# Each started directly (ip netns exec execs), so that $! is the
	# process.
	ip netns exec "$NS_B" "$PYTHON" "$BATS_TEST_DIRNAME/peer.py" echo \
		10.213.7.2 "$port" \
		--ready "$d/peer.ready" </dev/null >/dev/null 2>"$d/peer.log" \
		3>&- &
	PEER_PID=$!
	wait_for_log "$d/peer.ready" . 10
	SOCKS_PORT=$(free_port)
	ip netns exec "$NS_A" systemd-socket-activate -a --inetd \
		-l "127.0.0.1:$SOCKS_PORT" \
		"$SOCKS4D" -c "$d/socks.conf" -K 2 2>"$d/socks4d.log" 3>&- &
	SOCKS_PID=$!
	local tries=100 up="import socket,sys; socket.create_connection("
	up+="('127.0.0.1', $SOCKS_PORT), 1).close()"
	until ip netns exec "$NS_A" "$PYTHON" -c "$up" 2>/dev/null; do
		(( tries-- > 0 )) || die "socks4d does not listen in $NS_A"
		sleep 0.1
	done
	ip netns exec "$NS_A" "$PYTHON" -c "$CLIENT" "$SOCKS_PORT" "$port" \
		"$d/gone" \
		</dev/null >"$d/client.out" 2>&1 3>&- &
	CLIENT_PID=$!
	wait_for_log "$d/client.out" '^relaying$' 20
	# The destination's host is cut off: no FIN, no reset ever comes.
	ip -n "$NS_B" link del "$VETH_B"
	touch "$d/gone"
	wait "$CLIENT_PID" || die "client: $(cat "$d/client.out")"
	CLIENT_PID=
	ms=$(sed -n 's/^ended after \([0-9]*\) ms$/\1/p' "$d/client.out")
	[ -n "$ms" ] || die "client: $(cat "$d/client.out")"
	# idle 2 s, then probes for as long again: 4 s, with room for a busy
	# machine
	(( ms < 9000 )) || die "the relay ended only after $ms ms"
	grep -qE 'end: .* error: destination: ' "$d/socks4d.log" ||
		die "log: $(cat "$d/socks4d.log")"
}
