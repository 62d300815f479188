#!/usr/bin/env bats
# Happy Eyeballs (RFC 8305) for CONNECT to a name with IPv6 and IPv4
# addresses, SOCKS4a and SOCKS5 ATYP 3.  socks4d runs in a network
# namespace of this file's own, where 2001:db8:dead::/48 is black-holed
# (routed into a veth pair, not a dummy device, which some kernels lack,
# to a neighbour that does not exist: a SYN there is never answered) and
# 2001:db8:1::1 is on loopback (an IPv6 source address, without which the
# resolver would sort IPv4 first, RFC 6724), and in a mount namespace of
# each session's own where /etc/hosts is this file's hosts file.  The
# super-server listens outside, on 127.0.0.1; the web servers listen
# inside.  With -C 10 the old way (each address a fair share of -C in
# turn) granted both.test after 5 s, holes.test after 8.75 s; "well under
# a second" is asserted as < 2.5 s for a busy machine.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper

# The names, each address in the order getaddrinfo returns them (checked
# in setup_file: RFC 6724 sorts IPv6 first here, and a longer prefix shared
# with the source address 127.0.0.1 first among IPv4 ones).  127.0.0.10
# serves the IPv4 page, 2001:db8:1::1 the IPv6 one, 127.0.0.1 is the trap;
# nothing listens on 127.0.0.3-9.
declare -A NAMES=(
	[both.test]='2001:db8:dead::1 127.0.0.10'
	[loop.test]='2001:db8:dead::1 127.0.0.10'
	[v6ok.test]='2001:db8:1::1 127.0.0.1'
	[deny.test]='2001:db8:dead::1 127.0.0.1 127.0.0.10'
	[lost.test]='2001:db8:dead::1 127.0.0.3'
	[dark.test]='2001:db8:dead::1 2001:db8:dead::2'
	[holes.test]="$(printf '2001:db8:dead::%s ' 1 2 3 4 5 6 7)127.0.0.10"
	[refusing.test]="$(printf '127.0.0.%s ' 3 4 5 6 7 8 9)127.0.0.10"
)

setup_file() {
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	local d=$BATS_FILE_TMPDIR
	own_netns
	hosts_file >"$d/hosts"
	chmod 644 "$d/hosts"
	# socks4d in the namespace, with the hosts file
	cat >"$d/socks4d" <<-EOF
	#!/bin/sh
	exec nsenter -t $NS_PID -n unshare -m sh -ec \\
		'mount --bind "\$0" /etc/hosts; exec "\$@"' \\
		"$d/hosts" "$SOCKS4D" "\$@"
	EOF
	chmod +x "$d/socks4d"
	resolver_order_checked "$d/socks4d"

	export WEB_PORT
	WEB_PORT=$(free_port)
	mkdir -p "$d/www4" "$d/www6"
	echo 'the IPv4 page' >"$d/www4/index.html"
	echo 'the IPv6 page' >"$d/www6/index.html"
	in_ns_web 127.0.0.10 "$d/www4" WEB4_PID
	in_ns_web 2001:db8:1::1 "$d/www6" WEB6_PID
	# deny.test's 127.0.0.1 is denied, v6ok.test's never reached: the trap
	# logs any connection
	export TRAPLOG=$d/trap.log
	: >"$TRAPLOG"
	nsenter -t "$NS_PID" -n "$PYTHON" "$BATS_TEST_DIRNAME/peer.py" echo \
		127.0.0.1 "$WEB_PORT" --ready "$d/trap.ready" \
		--accept-log "$TRAPLOG" </dev/null >/dev/null 2>&1 3>&- &
	export TRAP_PID=$!
	wait_for_log "$d/trap.ready" .

	export CONF=$d/socks.conf
	ln -sfn "$d/permit.conf" "$CONF"
	printf 'permit c *\n' >"$d/permit.conf"
	SOCKS4D=$d/socks4d SOCKS_LOG=$d/short.log \
		start_socks4d_as SHORT "$CONF" -C 2 -u "$d/none"
	SOCKS4D=$d/socks4d start_socks4d "$CONF" -C 10 -u "$d/none"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG SHORT_PORT SHORT_PID SHORT_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "${SHORT_PID:-}" "${WEB4_PID:-}" "${WEB6_PID:-}" \
		"${TRAP_PID:-}" "${NS_PID:-}"
}

teardown() {
	ln -sfn "$BATS_FILE_TMPDIR/permit.conf" "$CONF"
}

# own_netns: the namespace (held by NS_PID): loopback with 2001:db8:1::1,
# and 2001:db8:dead::/48 routed through bh0 to a neighbour that never
# answers.
own_netns() {
	local in_ns
	netns_new NS_PID
	in_ns=(nsenter -t "$NS_PID" -n)
	"${in_ns[@]}" ip addr add 2001:db8:1::1/64 dev lo nodad
	"${in_ns[@]}" ip link add bh0 type veth peer name bh1
	# no link-local addresses: nothing but SYNs leaves through bh0
	"${in_ns[@]}" sysctl -qw net.ipv6.conf.bh0.addr_gen_mode=1 \
		net.ipv6.conf.bh1.addr_gen_mode=1
	"${in_ns[@]}" ip link set bh0 up
	"${in_ns[@]}" ip link set bh1 up
	"${in_ns[@]}" ip -6 route add 2001:db8:dead::/48 via fe80::dead \
		dev bh0
	"${in_ns[@]}" ip -6 neigh add fe80::dead lladdr 02:00:00:00:de:ad \
		dev bh0 nud permanent
}

# hosts_file: NAMES as /etc/hosts lines.
hosts_file() {
	local name a
	for name in "${!NAMES[@]}"; do
		for a in ${NAMES[$name]}; do echo "$a $name"; done
	done
}

# resolver_order_checked SOCKS4D: socks4d -t, through the wrapper, lists
# each name's addresses in getaddrinfo's order: NAMES's, or these tests
# would prove nothing.
resolver_order_checked() {
	local name got conf=$BATS_FILE_TMPDIR/order.conf
	printf 'permit c *\n' >"$conf"
	for name in "${!NAMES[@]}"; do
		got=$("$1" -t -c "$conf" c "$name" 80 | sed 's/: .*//' |
			paste -sd ' ')
		[ "$got" = "${NAMES[$name]}" ] ||
			die "getaddrinfo's order for $name: $got"
	done
}

# in_ns_web ADDR DIR PIDVAR: Python's web server for DIR on ADDR:WEB_PORT in
# the namespace, waited for; its PID in PIDVAR (exported).
in_ns_web() {
	local url=http://$1:$WEB_PORT/
	[[ $1 == *:* ]] && url=http://[$1]:$WEB_PORT/
	nsenter -t "$NS_PID" -n "$PYTHON" -m http.server --bind "$1" \
		--directory "$2" "$WEB_PORT" \
		</dev/null >>"$BATS_FILE_TMPDIR/http.log" 2>&1 3>&- &
	export "$3=$!"
	wait_cmd 10 "no web server on $1" nsenter -t "$NS_PID" -n \
		curl -sf -o /dev/null "$url"
}

# fetch socks4a|socks5-hostname NAME: curl for http://NAME:WEB_PORT/
# through socks4d, which resolves NAME; the page in output, the seconds it
# took in SECS, the client's port in CPORT.
fetch() {
	local t0=$EPOCHREALTIME
	CPORT=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$CPORT" \
		"--$1" "127.0.0.1:$SOCKS_PORT" "http://$2:$WEB_PORT/"
	SECS=$(secs_since "$t0")
}

# secs_since T0: the seconds since T0 (an $EPOCHREALTIME).
secs_since() {
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}

# syns_out: how many packets have left through bh0, all of them SYNs into
# the black hole (one an attempt, more if it lives to retransmit).
syns_out() {
	nsenter -t "$NS_PID" -n awk '{ sub(/:/, " ") }
		$1 == "bh0" { print $11 }' /proc/net/dev
}

# session_secs CPORT: how long the session of the client from CPORT took,
# as socks4d's end line says (its own clock: not the super-server's fork
# and exec, nor curl's start).
session_secs() {
	local pid
	pid=$(conn_pid "$1") && end_line "$pid" |
		sed -n 's/.* from client, \([0-9.]*\) s, .*/\1/p'
}

# under A B: A < B, both seconds.
under() {
	local t
	for t in "$1" "$2"; do
		[[ $t =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
			{ die "not a time: '$t'"; return; }
	done
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }' ||
		die "$1 s is not under $2 s"
}

# s5_name PORT NAME DPORT: a SOCKS5 CONNECT (ATYP 3) to NAME:DPORT through
# socks4d on PORT, no login, from a port client_port gives; prints the
# reply's first 2 bytes in hex.
s5_name() {
	"$PYTHON" - "$@" "$(client_port)" <<'PY'
import socket, sys
port, name, dport, cport = sys.argv[1], sys.argv[2].encode(), \
    int(sys.argv[3]), int(sys.argv[4])
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c.bind(("127.0.0.1", cport))
c.settimeout(20)
c.connect(("127.0.0.1", int(port)))
c.sendall(b"\x05\x01\x00")
assert c.recv(2, socket.MSG_WAITALL) == b"\x05\x00"
c.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name
          + dport.to_bytes(2, "big"))
print(c.recv(2, socket.MSG_WAITALL).hex())
PY
}

# and not before RFC 8305's Connection Attempt Delay: the IPv4 attempt
# waited for the IPv6 one that long (socks4d's own clock, a lower bound)
@test "SOCKS4a: IPv6 black-holed, IPv4 granted well under a second" {
	fetch socks4a both.test
	[ "$output" = "the IPv4 page" ]
	under "$SECS" 4
	under 0.249 "$(session_secs "$CPORT")"
	run -0 record_of "$CPORT"
	has "$output" "<D_IP> :127.0.0.10"
	has "$output" "<D_NAME> :both.test"
	has "$output" "<Reply> :Accept"
}

@test "SOCKS5 ATYP 3: IPv6 black-holed, IPv4 granted well under a second" {
	fetch socks5-hostname both.test
	[ "$output" = "the IPv4 page" ]
	under "$SECS" 4
	run -0 record_of "$CPORT"
	has "$output" "<D_IP> :127.0.0.10"
	has "$output" "<D_NAME> :both.test"
	has "$output" "<Version> :5"
}

# and the attempt that lost is closed, not left to its SYNs
@test "the IPv6 attempt that lost is closed while the session relays" {
	local t=$BATS_TEST_TMPDIR pid
	mkfifo "$t/in"
	$CLIENT --4a --port-file "$t/cport" "$SOCKS_PORT" both.test \
		"$WEB_PORT" <"$t/in" >"$t/out" 3>&- &
	pid=$!
	exec 4>"$t/in"
	wait_for_log "$t/cport" .
	# the record is written with the first bytes relayed; the web server
	# waits for the rest of the request
	printf 'GET / HTTP/1.0\r\n' >&4
	run -0 record_of "$(cat "$t/cport")"
	has "$output" "<D_IP> :127.0.0.10"
	# the session is relaying: no SYN to the black hole is pending
	run -0 nsenter -t "$NS_PID" -n ss -tnH state syn-sent
	exec 4>&-
	wait "$pid"
	[ -z "$output" ] || die "an attempt left open: $output"
}

# and the IPv4 attempt never begins: the IPv6 one connected before 250 ms
@test "both families reachable: the first address (IPv6) wins" {
	: >"$TRAPLOG"
	fetch socks4a v6ok.test
	[ "$output" = "the IPv6 page" ]
	run -0 record_of "$CPORT"
	has "$output" "<D_IP> :2001:db8:1::1"
	fetch socks5-hostname v6ok.test
	[ "$output" = "the IPv6 page" ]
	run -0 record_of "$CPORT"
	has "$output" "<D_IP> :2001:db8:1::1"
	[ ! -s "$TRAPLOG" ] || die "the IPv4 attempt began: $(cat "$TRAPLOG")"
}

# families alternate: the one IPv4 address is the second attempt, not the
# eighth (7 x 250 ms) or the last of eight fair shares (8.75 s); counted in
# SYNs into the black hole, which no busy machine changes
@test "seven black-holed IPv6 addresses, then IPv4: the IPv4 one comes second" {
	local before
	before=$(syns_out)
	fetch socks4a holes.test
	[ "$output" = "the IPv4 page" ]
	under "$SECS" 4
	run -0 record_of "$CPORT"
	has "$output" "<D_IP> :127.0.0.10"
	(( $(syns_out) - before <= 2 )) ||
		die "$(( $(syns_out) - before )) SYNs into the black hole"
}

# a refused attempt does not wait out its 250 ms (7 x 250 ms)
@test "seven refused addresses, then one that answers: no delay after each" {
	fetch socks5-hostname refusing.test
	[ "$output" = "the IPv4 page" ]
	run -0 record_of "$CPORT"
	has "$output" "<D_IP> :127.0.0.10"
	under "$(session_secs "$CPORT")" 1.0
}

# the attempt after it takes its turn: 127.0.0.10 at 250 ms (the old way:
# after a third of -C)
@test "a denied address is never connected to while the others are tried" {
	printf 'deny c 127.0.0.1\npermit c *\n' >"$BATS_TEST_TMPDIR/deny.conf"
	ln -sfn "$BATS_TEST_TMPDIR/deny.conf" "$CONF"
	: >"$TRAPLOG"
	fetch socks4a deny.test
	[ "$output" = "the IPv4 page" ]
	under "$SECS" 4
	run -0 record_of "$CPORT"
	has "$output" "<D_IP> :127.0.0.10"
	fetch socks5-hostname deny.test
	[ "$output" = "the IPv4 page" ]
	[ ! -s "$TRAPLOG" ] || die "the denied address was reached: $(
		cat "$TRAPLOG")"
}

@test "an address that is socks4d itself is refused as it comes up" {
	local cport t0=$EPOCHREALTIME
	cport=$(client_port)
	run -0 raw "$cport" "$SOCKS_PORT" \
		"$(req 1 "$SOCKS_PORT" 0.0.0.1 u loop.test)"
	[ "$output" = "005b$(hex4 "$SOCKS_PORT")00000001" ]
	under "$(secs_since "$t0")" 4
	run -0 record_of "$cport"
	has "$output" "<Reason> :destination is socks4d itself"
}

# -C 2: the IPv6 attempt may still connect until the deadline
@test "all fail: the refusal gives the refused address, not the timeout" {
	local cport
	cport=$(client_port)
	run -0 raw "$cport" "$SHORT_PORT" \
		"$(req 1 "$WEB_PORT" 0.0.0.1 u lost.test)" 5
	[ "$output" = "005b$(hex4 "$WEB_PORT")00000001" ]
	run -0 record_of "$cport" "$SHORT_LOG"
	has "$output" "<D_IP> :127.0.0.3"
	has "$output" "<Reason> :connect to 127.0.0.3 port $WEB_PORT:\
 Connection refused"
	run -0 s5_name "$SHORT_PORT" lost.test "$WEB_PORT"
	[ "$output" = 0505 ]
}

@test "none answers by -C: timed out, naming the first address tried" {
	local cport
	cport=$(client_port)
	run -0 raw "$cport" "$SHORT_PORT" \
		"$(req 1 "$WEB_PORT" 0.0.0.1 u dark.test)" 5
	[ "$output" = "005b$(hex4 "$WEB_PORT")00000001" ]
	run -0 record_of "$cport" "$SHORT_LOG"
	has "$output" "<D_IP> :2001:db8:dead::1"
	# strerror(ETIMEDOUT): musl's words or glibc's (the sanitizer build)
	grep -qxE "<Reason> :connect to 2001:db8:dead::1 port $WEB_PORT: \
(Connection|Operation) timed out" <<<"$output"
	run -0 s5_name "$SHORT_PORT" dark.test "$WEB_PORT"
	[ "$output" = 0506 ]
}

@test "no sanitizer reports in the logs" {
	no_sanitizer_reports "$SOCKS_LOG"
	no_sanitizer_reports "$SHORT_LOG"
	no_crash "$SOCKS_LOG"
	no_crash "$SHORT_LOG"
}
