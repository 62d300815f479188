#!/usr/bin/env bats
# No open proxy by default, and the in-process defences: with the shipped
# socks.conf only loopback is reachable; the shipped socket unit listens on
# loopback only; started as root, socks4d serves the session as nobody
# (65534), with no core dumps and not dumpable; `socks4d -t` accepts the
# shipped file, whose header shows today's grammar.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper

SHIPPED_CONF=$TOP/socks.conf

setup_file() {
	# root starts the super-server (as inetd or tcpserver would)
	[ "$(id -u)" = 0 ] || skip "needs root"
	# a core limit socks4d must lower by itself
	ulimit -c unlimited
	start_peer ECHO echo 127.0.0.2
	start_peer ECHO6 echo ::1
	start_peer UECHO udp-echo 127.0.0.2
	start_socks4d "$SHIPPED_CONF"
	# and the same, started as nobody from the start
	export NOBODY_PORT NOBODY_PID NOBODY_LOG=$BATS_FILE_TMPDIR/nobody.log
	NOBODY_PORT=$(free_port)
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		systemd-socket-activate -a --inetd -l "127.0.0.1:$NOBODY_PORT" \
		"$SOCKS4D" -c "$SHIPPED_CONF" 2>>"$NOBODY_LOG" 3>&- &
	NOBODY_PID=$!
	wait_for_port 127.0.0.1 "$NOBODY_PORT"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "$NOBODY_PID" "$ECHO_PID" "$ECHO6_PID" "$UECHO_PID"
}

teardown() {
	no_sanitizer_reports "$SOCKS_LOG"
	no_crash "$SOCKS_LOG"
}

# before any connect
@test "the shipped socks.conf rejects non-loopback destinations, at once" {
	# TEST-NET, private, link-local (cloud metadata) and documentation IPv6
	# addresses: none is reachable from here, so a 91 well within the
	# connect deadline (10 s), with the no-match reason and not a connect
	# error, shows that nothing was tried.
	local why="<Reason> :no rule in $SHIPPED_CONF matches"
	probe <<-EOF
	CONNECT 192.0.2.1:80 | x:04010050+c0000201+'u'+00 shut
	    | 005b0050c0000201 | eof | 1 | $why | 0-5000
	CONNECT 10.0.0.1:80 | x:04010050+0a000001+'u'+00 shut
	    | 005b00500a000001 | eof | 1 | $why | 0-5000
	CONNECT 169.254.169.254:80 | x:04010050+a9fea9fe+'u'+00 shut
	    | 005b0050a9fea9fe | eof | 1 | $why | 0-5000
	CONNECT 198.51.100.7:443 | x:040101bb+c6336407+'u'+00 shut
	    | 005b01bbc6336407 | eof | 1 | $why | 0-5000
	4a name 192.0.2.1 | x:04010050+00000001+'u'+00+'192.0.2.1'+00 shut
	    | 005b005000000001 | eof | 1 | $why | 0-5000
	4a name 2001:db8::1 | x:04010050+00000001+'u'+00+'2001:db8::1'+00 shut
	    | 005b005000000001 | eof | 1 | $why | 0-5000
	BIND for peer 192.0.2.1 | x:04020050+c0000201+'u'+00 shut
	    | 005b0050c0000201 | eof | 1 | $why | 0-5000
	EOF
	# the log says where the request went
	run -0 grep -c '^<D_IP> :192.0.2.1$' "$SOCKS_LOG"
}

@test "the shipped socks.conf permits loopback (IPv4 and IPv6)" {
	probe --var SP="$(hex4 "$ECHO6_PORT")" <<-'EOF'
	CONNECT 127.0.0.2 | x:0401+$EP+7f000002+'u'+00+'v4' shut
	    | 005a+$EP+7f000002+'v4' | eof | 0 | both sides closed | 0-5000
	4a name ::1 | x:0401+$SP+00000001+'u'+00+'::1'+00+'v6' shut
	    | 005a+$SP+00000001+'v6' | eof | 0 | both sides closed | 0-5000
	BIND for peer 127.0.0.1 | x:0402+0000+7f000001+'u'+00 read:8:5 shut
	    | 005a+~[0-9a-f]{4}+7f000001 | eof | 1
	    | client left while BIND waited | 0-5000
	EOF
}

@test "socks4d.socket listens on loopback only" {
	local lines l
	lines=$(grep -E '^[[:space:]]*ListenStream[[:space:]]*=' \
		"$TOP/socks4d.socket")
	[ -n "$lines" ] || die "no ListenStream in socks4d.socket"
	while read -r l; do
		l=${l#*=}
		l=${l//[[:space:]]/}
		[[ "$l" =~ ^(127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\]):[0-9]+$ ]] ||
			die "socks4d.socket listens beyond loopback:" \
				"ListenStream=$l"
	done <<< "$lines"
}

# session_pid PARENT PORT: open a CONNECT through the super-server on PORT
# to the echo server, held for 6 s in the background; print the PID of the
# socks4d serving it, once it has granted the request.
session_pid() {
	local ready=$BATS_TEST_TMPDIR/granted.$2 pid tries=200
	"$PYTHON" - "$2" "$ECHO_PORT" "$ready" <<-'PY' >/dev/null 2>&1 3>&- &
	import socket, struct, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(struct.pack(">BBH", 4, 1, int(sys.argv[2]))
	          + bytes([127, 0, 0, 2]) + b"\0")
	open(sys.argv[3], "w").write(s.recv(8).hex())
	time.sleep(6)
	PY
	while [ ! -s "$ready" ] && (( tries-- > 0 )); do sleep 0.05; done
	[ "$(cat "$ready")" = "005a$(hex4 "$ECHO_PORT")7f000002" ] ||
		die "not granted: $(cat "$ready")"
	pid=$(pgrep -P "$1")
	[ "$(wc -w <<< "$pid")" = 1 ] || die "expected one socks4d, found: $pid"
	echo "$pid"
}

# and not dumpable
@test "started as root, socks4d serves as nobody (65534), RLIMIT_CORE 0" {
	local pid st
	pid=$(session_pid "$SOCKS_PID" "$SOCKS_PORT")
	st=$(cat "/proc/$pid/status")
	echo "$st" | grep -E '^(Name|Uid|Gid|Groups|CapEff|CapPrm):'
	[[ "$st" == *$'\nUid:\t65534\t65534\t65534\t65534\n'* ]]
	[[ "$st" == *$'\nGid:\t65534\t65534\t65534\t65534\n'* ]]
	[[ "$st" == *$'\nGroups:\t65534 \n'* ||
		"$st" == *$'\nGroups:\t65534\n'* ]]
	[[ "$st" == *$'\nCapEff:\t0000000000000000\n'* ]]
	[[ "$st" == *$'\nCapPrm:\t0000000000000000\n'* ]]
	grep -E '^Max core file size +0 +0 +bytes' "/proc/$pid/limits"
	# a process that is not dumpable has its /proc files owned by root
	[ "$(stat -c %u "/proc/$pid/status")" = 0 ]
	# the super-server itself still runs as root, with the core limit it had
	grep -qE '^Uid:\s+0\s' "/proc/$SOCKS_PID/status"
	grep -qE '^Max core file size +unlimited +unlimited' \
		"/proc/$SOCKS_PID/limits"
}

@test "started as nobody, socks4d still sets RLIMIT_CORE 0, not dumpable" {
	# no change of credentials here, so the kernel would leave it dumpable
	local pid
	pid=$(session_pid "$NOBODY_PID" "$NOBODY_PORT")
	grep -qE '^Uid:\s+65534\s+65534\s' "/proc/$pid/status"
	grep -E '^Max core file size +0 +0 +bytes' "/proc/$pid/limits"
	[ "$(stat -c %u "/proc/$pid/status")" = 0 ]
	# the super-server, same user, never changed credentials: dumpable
	[ "$(stat -c %u "/proc/$NOBODY_PID/status")" = 65534 ]
}

@test "socks4d -t accepts the shipped socks.conf, and answers for one request" {
	run -0 "$SOCKS4D" -t -c "$SHIPPED_CONF"
	[ "${lines[0]}" = "$SHIPPED_CONF: 4 rules, OK" ]
	run -0 "$SOCKS4D" -t -c "$SHIPPED_CONF" c 127.0.0.1 80
	[[ "$output" == "permit ("* ]]
	run -0 "$SOCKS4D" -t -c "$SHIPPED_CONF" c ::1 80
	run -1 "$SOCKS4D" -t -c "$SHIPPED_CONF" c 192.0.2.1 80
	[ "$output" = "reject (no rule in $SHIPPED_CONF matches)" ]
	run -1 "$SOCKS4D" -t -c "$SHIPPED_CONF" b 192.0.2.1
}

# as CONNECT is, and nothing else
@test "the shipped socks.conf permits UDP ASSOCIATE to loopback" {
	run -0 udp5 "$SOCKS_PORT" "127.0.0.2:$UECHO_PORT:over-udp"
	[[ $output == "reply 0500"* ]] || die "not granted: $output"
	[[ $output == *"got 127.0.0.2 $UECHO_PORT over-udp"* ]] ||
		die "no answer: $output"
	run -0 "$SOCKS4D" -t -c "$SHIPPED_CONF" u ::1 53
	[[ $output == permit* ]] || die "$output"
	run -1 "$SOCKS4D" -t -c "$SHIPPED_CONF" u 192.0.2.1 53
	[[ $output == reject* ]] || die "$output"
	# and says why
	grep -q '^# UDP ASSOCIATE is permitted to loopback' "$SHIPPED_CONF"
}

# c, b, u, port, from, user, CIDR and IPv6: each example rule passes -t
@test "the shipped socks.conf's header shows today's grammar" {
	local ex=$BATS_TEST_TMPDIR/examples.conf gram
	gram=$(grep '^# *permit|deny ' "$SHIPPED_CONF")
	for w in CMDS ADDRESS '[port N[-M]]' '[from SOURCE]' '[user NAME'; do
		[[ $gram == *"$w"* ]] || die "the grammar lacks $w: $gram"
	done
	for w in 'c (CONNECT' 'b (BIND' 'u (UDP ASSOCIATE'; do
		grep -qF "$w" "$SHIPPED_CONF" || die "no $w in the header"
	done
	# The example rules, uncommented.
	sed -n 's/^# *\(\(permit\|deny\) .*\)/\1/p' "$SHIPPED_CONF" |
		sed 's/ *#.*//' >"$ex"
	cat "$ex"
	[ "$(grep -c . "$ex")" -ge 4 ] || die "not four example rules"
	run -0 "$SOCKS4D" -t -c "$ex"
	for w in c b u; do
		awk -v w="$w" 'index($2, w) { f = 1 } END { exit !f }' "$ex" ||
			die "no example of $w"
	done
	for w in port from user; do
		grep -qw "$w" "$ex" || die "no example of $w"
	done
	grep -q '[0-9]/[0-9]' "$ex" || die "no CIDR example"
	grep -q '[0-9a-f]:[0-9a-f:]*/' "$ex" || die "no IPv6 example"
}
