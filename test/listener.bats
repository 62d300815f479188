#!/usr/bin/env bats
# Listener mode: socks4d -l binds, drops privileges, and forks a session per
# client (no super-server); and systemd's Accept=no, where it is handed the
# listening socket.  Caps in all and per source (an IPv6 client counted by
# its /64), the SOCKS refusal over a cap, penalties for failed logins,
# SIGHUP, a failing fork(), crashes of a child, the drain on SIGTERM,
# socks.conf read fresh by a child that is no longer root, and the shipped
# socks4d-listener units.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=90
load test_helper

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	start_peer ECHO echo 127.0.0.2
	mkdir -p "$BATS_FILE_TMPDIR/www"
	export MARKER="listener page $RANDOM$RANDOM"
	printf '%s\n' "$MARKER" >"$BATS_FILE_TMPDIR/www/index.html"
	start_http 127.0.0.1 "$BATS_FILE_TMPDIR/www"
}

teardown_file() {
	kill_pids "${ECHO_PID:-}" "${HTTP_PID:-}"
}

setup() {
	# Started as root, the sessions run as nobody: socks.conf must be
	# reachable for them, and bats' own temporary directories are not.
	CONFDIR=$(mktemp -d /tmp/socks4d-listener.XXXXXX)
	chmod 755 "$CONFDIR"
	CONF=$CONFDIR/socks.conf
	printf 'permit c 127.0.0.0/8\n' >"$CONF"
	chmod 644 "$CONF"
	L_LOG=$BATS_TEST_TMPDIR/listener.log
	L_PID=
	L_WRAP=()
	L_LISTEN=
	NS_PID=
	IN_NS=()
	HELD_PID=
	SESSION_PID=
	UNIT=
	SD_STARTED=
}

teardown() {
	if [ -n "$L_PID" ] && kill -0 "$L_PID" 2>/dev/null; then
		no_crash_logged
		stop_listener
	fi
	exec 6>&- 2>/dev/null
	[ -z "${SESSION_PID:-}" ] || kill_pids "$SESSION_PID"
	[ -z "${UNIT:-}" ] ||
		"$BATS_TEST_DIRNAME/private_systemd.sh" remove "$SD_PID" "$UNIT"
	[ -z "${SD_STARTED:-}" ] ||
		"$BATS_TEST_DIRNAME/private_systemd.sh" stop "$SD_STARTED"
	kill_pids "$HELD_PID" "$NS_PID" || true
	no_sanitizer_reports "$L_LOG"
	rm -rf "$CONFDIR"
}

# start_listener [socks4d options]: socks4d -c $CONF -l 127.0.0.1:$L_PORT
# (or -l $L_LISTEN), run by the command in L_WRAP if any (nsenter,
# prlimit: it must exec socks4d), waited for through its "listening on"
# line (a probe would be a client).
start_listener() {
	L_PORT=$(free_port)
	"${L_WRAP[@]}" "$SOCKS4D" -c "$CONF" \
		-l "${L_LISTEN:-127.0.0.1:$L_PORT}" "$@" 2>>"$L_LOG" 3>&- &
	L_PID=$!
	wait_for_log "$L_LOG" "^socks4d\[$L_PID\]: listening on "
}

# stop_listener: SIGTERM, and SIGKILL for a listener that hangs on to it.
stop_listener() {
	kill -TERM "$L_PID" 2>/dev/null
	timeout 20 tail --pid="$L_PID" -f /dev/null ||
		kill -KILL "$L_PID" 2>/dev/null
	wait "$L_PID" 2>/dev/null
	L_PID=
	return 0
}

# logged ERE...: a line of $L_LOG matches the EREs, joined.
logged() {
	local re
	printf -v re '%s' "$@"
	grep -q -- "$re" "$L_LOG" || die "no line '$re' in: $(cat "$L_LOG")"
}

no_crash_logged() {
	if grep -n 'ended by signal' "$L_LOG"; then die "a session crashed"; fi
	return 0
}

# curl_page PORT [curl options]: the page through socks4d, SOCKS4a.
curl_page() {
	local port=$1
	shift
	run -0 curl -sS --fail --max-time 20 "$@" --socks4a "127.0.0.1:$port" \
		"http://localhost:$HTTP_PORT/"
	[ "$output" = "$MARKER" ] || die "not the page: $output"
}

# start_session: listener_client.py's session, one CONNECT to the echo
# peer, fed lines through fd 6; what it prints goes to $SESSION_OUT.
start_session() {
	local in=$BATS_TEST_TMPDIR/session.in
	SESSION_OUT=$BATS_TEST_TMPDIR/session.out
	mkfifo "$in"
	"$PYTHON" "$BATS_TEST_DIRNAME/listener_client.py" session "$L_PORT" \
		"$ECHO_PORT" \
		<"$in" >"$SESSION_OUT" 2>&1 3>&- &
	SESSION_PID=$!
	exec 6>"$in"
	wait_for_log "$SESSION_OUT" '^reply ' 20
	grep -qx 'reply 90' "$SESSION_OUT" ||
		die "session: $(cat "$SESSION_OUT")"
}

caps() {
	"$PYTHON" "$BATS_TEST_DIRNAME/listener_client.py" caps "$L_PORT" \
		"$ECHO_PORT" "$@"
}

# a session of its own per client, records on stderr
@test "listener: curl --socks4a through socks4d -l" {
	start_listener
	local c1 c2 p1 p2
	c1=$(client_port)
	curl_page "$L_PORT" --local-port "$c1"
	c2=$(client_port)
	curl_page "$L_PORT" --local-port "$c2"
	record_of "$c1" "$L_LOG" | grep -qx '<Reply> :Accept' ||
		die "no Accept record for $c1: $(cat "$L_LOG")"
	record_of "$c1" "$L_LOG" | grep -qx '<D_NAME> :localhost' ||
		die "no D_NAME for $c1"
	record_of "$c2" "$L_LOG" | grep -qx '<Reply> :Accept' ||
		die "no Accept record for $c2"
	# two end lines, from two children, neither of them the listener
	wait_for_log "$L_LOG" ': end: .*both sides closed'
	run -0 grep -c ': end: .*both sides closed' "$L_LOG"
	[ "$output" = 2 ] || die "$output end lines"
	p1=$(grep -o '^socks4d\[[0-9]*\]: end:' "$L_LOG" | head -1 | tr -dc 0-9)
	p2=$(grep -o '^socks4d\[[0-9]*\]: end:' "$L_LOG" | tail -1 | tr -dc 0-9)
	[ "$p1" != "$p2" ] || die "one process for two clients"
	[ "$p1" != "$L_PID" ] || die "the listener served a client itself"
	[ "$p2" != "$L_PID" ] || die "the listener served a client itself"
}

# both the listener and its sessions
@test "listener: started as root, it binds, then runs as nobody" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	start_listener
	exec 5<>"/dev/tcp/127.0.0.1/$L_PORT"
	kid=$(wait_children "$L_PID" 1)
	run -0 ps -o uid= -p "$L_PID"
	[ "${output// /}" = 65534 ] || die "listener runs as uid $output"
	run -0 ps -o uid= -p "$kid"
	[ "${output// /}" = 65534 ] || die "session runs as uid $output"
	exec 5>&-
}

# it says so at once
@test "listener: started as root with a socks.conf its sessions cannot read" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	chmod 600 "$CONF"
	start_listener
	local re="^socks4d\[$L_PID\]: $CONF: Permission denied: every request"
	wait_for_log "$L_LOG" \
		"$re will be rejected until uid 65534 can read it$"
	run ! curl -sS --max-time 10 --socks4a "127.0.0.1:$L_PORT" \
		"http://localhost:$HTTP_PORT/"
	chmod 644 "$CONF"
	curl_page "$L_PORT"
}

@test "listener: an IPv6 listen address, [::1]:PORT, beside an IPv4 one" {
	[ -e /proc/net/tcp6 ] || skip "no IPv6"
	local p6 c
	p6=$(free_port)
	start_listener -l "[::1]:$p6"
	grep -q "listening on 127.0.0.1:$L_PORT \[::1\]:$p6;" "$L_LOG" ||
		die "$(cat "$L_LOG")"
	run -0 curl -sS --fail --max-time 20 --socks4a "[::1]:$p6" \
		"http://localhost:$HTTP_PORT/"
	[ "$output" = "$MARKER" ] || die "not the page through [::1]: $output"
	wait_for_log "$L_LOG" '^<S_IP> :::1$'
	curl_page "$L_PORT"
}

# the one over it is refused (91), others are served, a freed slot is
# reused
@test "listener: -s caps the sessions from one address" {
	start_listener -s 3
	run -0 caps 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.1 127.0.0.3
	echo "$output"
	[ "${lines[0]}" = "0 127.0.0.1 90" ] || die "first: ${lines[0]}"
	[ "${lines[1]}" = "1 127.0.0.1 90" ] || die "second: ${lines[1]}"
	[ "${lines[2]}" = "2 127.0.0.1 90" ] || die "third: ${lines[2]}"
	[ "${lines[3]}" = "3 127.0.0.1 91" ] ||
		die "fourth, over the cap: ${lines[3]}"
	[ "${lines[4]}" = "4 127.0.0.3 90" ] ||
		die "another address: ${lines[4]}"
	[[ ${lines[5]} == "reuse "*" 90" ]] ||
		die "no slot free after a session ended: ${lines[5]}"
	logged 'refused a client from 127.0.0.1:[0-9]*: ' \
		'3 sessions from 127.0.0.1, limit 3$'
}

@test "listener: -m caps the sessions in all, whatever their addresses" {
	start_listener -m 3
	run -0 caps 127.0.0.1 127.0.0.3 127.0.0.4 127.0.0.5
	echo "$output"
	[ "${lines[0]}" = "0 127.0.0.1 90" ] || die "${lines[0]}"
	[ "${lines[1]}" = "1 127.0.0.3 90" ] || die "${lines[1]}"
	[ "${lines[2]}" = "2 127.0.0.4 90" ] || die "${lines[2]}"
	[ "${lines[3]}" = "3 127.0.0.5 91" ] ||
		die "over the cap: ${lines[3]}"
	[[ ${lines[4]} == "reuse "*" 90" ]] ||
		die "no slot free after a session ended: ${lines[4]}"
	logged 'refused a client from 127.0.0.5:[0-9]*: ' \
		'3 sessions in all, limit 3$'
}

# knock DEST PORT STEP...: clients of the listener, one after another, each
# kept open to the end.  A STEP is KIND:SRC, a client from address SRC (an
# IPv6 one reaches an IPv4 DEST as ::ffff:DEST): hold (sends nothing, says
# nothing), s4 (a SOCKS4 CONNECT), s5 (a SOCKS5 greeting, no login), http
# (an HTTP CONNECT), junk (an HTTP GET) or quiet (sends nothing); each but
# hold prints "KIND SRC REPLY END", REPLY in hex (- for none; for s4 and
# s5 the reply's bytes, for the others all until the end), END "open" if a
# session answered (SOCKS5 method 00, SOCKS4 90), else how it ended:
# eof, reset or timeout (10 s).  silent:SRC:N opens N quiet clients at once
# and prints "silent SRC eof=E reset=R timeout=T" once each has ended.
# In the namespace of netns, if there is one.
knock() {
	"${IN_NS[@]}" "$PYTHON" - "$@" <<'PY'
import socket, sys
dest, port, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
SEND = {"s4": b"\x04\x01\x00\x09\x7f\x00\x00\x01knock\x00",
        "s5": b"\x05\x01\x00", "junk": b"GET / HTTP/1.0\r\n\r\n",
        "http": b"CONNECT 127.0.0.1:9 HTTP/1.1\r\n\r\n",
        "quiet": b""}
kept = []

def client(src):
    v6 = ":" in src
    d = "::ffff:" + dest if v6 and ":" not in dest else dest
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
    s.bind((src, 0))
    s.settimeout(10)
    s.connect((d, port))
    kept.append(s)
    return s

def end(s, kept=None):
    try:
        while True:
            c = s.recv(4096)
            if not c:
                return "eof"
            if kept is not None:
                kept.extend(c)
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"

for step in steps:
    kind, src = step.split(":", 1)
    if kind == "silent":
        src, n = src.rsplit(":", 1)
        ends = [end(s) for s in [client(src) for _ in range(int(n))]]
        print("silent", src, " ".join("%s=%d" % (e, ends.count(e))
              for e in ("eof", "reset", "timeout")), flush=True)
        continue
    s = client(src)
    if kind == "hold":
        continue
    s.sendall(SEND[kind])
    try:
        n = {"s4": 8, "s5": 2}.get(kind, 0)
        got = s.recv(n, socket.MSG_WAITALL) if n else b""
    except ConnectionResetError:
        print(kind, src, "-", "reset", flush=True)
        continue
    served = got == b"\x05\x00" or got[:2] == b"\x00\x5a"
    rest = bytearray()
    how = "open" if served else end(s, None if n else rest)
    print(kind, src, (got + bytes(rest)).hex() or "-", how, flush=True)
PY
}

# netns ADDR...: a network namespace of this test's own, held by NS_PID
# (stopped in teardown), loopback up with each ADDR/64 on it; IN_NS runs a
# command there, and the listener and knock run there.
netns() {
	[ "$(id -u)" = 0 ] || skip "a network namespace needs root"
	local a
	netns_new NS_PID
	IN_NS=(nsenter -t "$NS_PID" -n)
	for a; do "${IN_NS[@]}" ip addr add "$a/64" dev lo nodad; done
	L_WRAP=("${IN_NS[@]}")
}

# the fifth of -s 4 from five addresses of one /64 is refused (05 ff), and
# logged once with the count; another /64 is served
@test "listener: -s counts an IPv6 client by its /64" {
	netns 2001:db8::1 2001:db8::2 2001:db8::3 2001:db8::4 2001:db8::5 \
		2001:db8:0:1::1
	L_LISTEN='[2001:db8::1]:1080' start_listener -s 4 -T 60
	run -0 knock 2001:db8::1 1080 hold:2001:db8::1 hold:2001:db8::2 \
		hold:2001:db8::3 hold:2001:db8::4 s5:2001:db8::5 \
		s5:2001:db8:0:1::1
	echo "$output"
	[ "${lines[0]}" = "s5 2001:db8::5 05ff eof" ] ||
		die "the fifth of the /64: ${lines[0]}"
	[ "${lines[1]}" = "s5 2001:db8:0:1::1 0500 open" ] ||
		die "the next /64: ${lines[1]}"
	run -0 grep -c 'refused' "$L_LOG"
	[ "$output" = 1 ] || die "$output lines: $(cat "$L_LOG")"
	logged 'refused a client from \[2001:db8::5\]:[0-9]*: ' \
		'4 sessions from 2001:db8::/64, limit 4$'
}

# five addresses of one /64 under -s 4; the fifth from one address refused
@test "listener: -S 128 counts each IPv6 address apart" {
	netns 2001:db8::1 2001:db8::2 2001:db8::3 2001:db8::4 2001:db8::5
	L_LISTEN='[2001:db8::1]:1080' start_listener -s 4 -S 128 -T 60
	grep -q "4 from one source (IPv6: a /128)" "$L_LOG" ||
		die "$(cat "$L_LOG")"
	run -0 knock 2001:db8::1 1080 hold:2001:db8::1 hold:2001:db8::2 \
		hold:2001:db8::3 hold:2001:db8::4 s5:2001:db8::5 \
		hold:2001:db8::5 hold:2001:db8::5 hold:2001:db8::5 \
		s5:2001:db8::5
	echo "$output"
	[ "${lines[0]}" = "s5 2001:db8::5 0500 open" ] ||
		die "the fifth address: ${lines[0]}"
	[ "${lines[1]}" = "s5 2001:db8::5 05ff eof" ] ||
		die "the fifth from one address: ${lines[1]}"
}

# an IPv4 client of a dual-stack socket (::ffff:a.b.c.d), not the /64 all of
# IPv4 would share
@test "listener: an IPv4-mapped client counts as its IPv4 address" {
	netns
	L_LISTEN=1080 start_listener -s 1 -T 60
	run -0 knock 127.0.0.1 1080 hold:127.0.0.1 s5:127.0.0.2 \
		s5:::ffff:127.0.0.1 s5:127.0.0.1
	echo "$output"
	[ "${lines[0]}" = "s5 127.0.0.2 0500 open" ] ||
		die "another IPv4 address: ${lines[0]}"
	[ "${lines[1]}" = "s5 ::ffff:127.0.0.1 05ff eof" ] ||
		die "the first address, IPv4-mapped: ${lines[1]}"
	[ "${lines[2]}" = "s5 127.0.0.1 05ff eof" ] ||
		die "the first address: ${lines[2]}"
	logged 'refused a client from 127.0.0.1:[0-9]*: ' \
		'1 sessions from 127.0.0.1, limit 1$'
}

# refusals KIND WHY: "LINES CLIENTS" for KIND's refusals in $L_LOG: the
# lines logged (the first of a second in full, its reason matching the ERE
# WHY, then "KIND: N more clients refused"), and the clients they count.
refusals() {
	awk -v kind="$1: " -v why="$2" '
	/: refused a client from / && $0 ~ why { l++; n++ }
	index($0, kind) && / more clients refused$/ { l++; n += $(NF - 3) }
	END { print l + 0, n + 0 }' "$L_LOG"
}

# refused_count N KIND WHY: the log counts N refusals of KIND.
refused_count() { [ "$(refusals "$2" "$3" | cut -d' ' -f2)" = "$1" ]; }

# at_most_per_second T0 KIND WHY: KIND's lines in the log are at most one a
# second since T0 (an $EPOCHREALTIME), the first one included.
at_most_per_second() {
	local secs=$(( (${EPOCHREALTIME/./} - ${1/./}) / 1000000 )) lines
	lines=$(refusals "$2" "$3" | cut -d' ' -f1)
	(( lines <= secs + 1 )) || die "$2: $lines lines in $secs s"
}

# reaped_all: the listener has no child left, not even one unreaped.
reaped_all() { ! pgrep -P "$L_PID" >/dev/null; }

# no_resets: no socket in netns's namespace was aborted: none closed with
# bytes unread (AbortOnClose), none reset for bytes that came after its
# close or for a zero linger (AbortOnData).  Not TcpOutRsts: a busy machine
# adds resets of its own to it (seen in CI) that no close of ours caused.
no_resets() {
	local out
	out=$("${IN_NS[@]}" nstat -asz TcpExtTCPAbortOnClose \
		TcpExtTCPAbortOnData TcpExtTCPAbortOnLinger | awk '!/^#/ && $2')
	[ -z "$out" ] || die "aborted: $out; all TCP counters: $("${IN_NS[@]}" \
		nstat -as | grep -i tcp)"
}

# hold_slot: a client of the listener in netns's namespace that sends
# nothing (its session waits for a request), until HELD_PID is stopped.
hold_slot() {
	local out=$BATS_TEST_TMPDIR/held
	"${IN_NS[@]}" bash -c 'exec 5<>/dev/tcp/127.0.0.1/1080 &&
		echo held && exec sleep 600' >"$out" 3>&- &
	HELD_PID=$!
	wait_for_log "$out" '^held$'
}

# SOCKS4 gets 91, SOCKS5 05 ff (curl says so), HTTP CONNECT 503, others a
# clean close, none a reset; logged at most once a second, with a count
@test "listener: over a cap, a client is refused in its protocol" {
	netns
	L_LISTEN=127.0.0.1:1080 start_listener -s 1 -T 60
	local t0=$EPOCHREALTIME
	hold_slot
	run -0 knock 127.0.0.1 1080 s4:127.0.0.1 s5:127.0.0.1 \
		quiet:127.0.0.1 junk:127.0.0.1 http:127.0.0.1 \
		silent:127.0.0.1:100
	echo "$output"
	[ "${lines[0]}" = "s4 127.0.0.1 005b000000000000 eof" ] ||
		die "SOCKS4: ${lines[0]}"
	[ "${lines[1]}" = "s5 127.0.0.1 05ff eof" ] || die "SOCKS5: ${lines[1]}"
	[ "${lines[2]}" = "quiet 127.0.0.1 - eof" ] || die "silent: ${lines[2]}"
	[ "${lines[3]}" = "junk 127.0.0.1 - eof" ] || die "GET: ${lines[3]}"
	[[ ${lines[4]} == "http 127.0.0.1 $(hex 'HTTP/1.1 503 ')"*" eof" ]] ||
		die "CONNECT: ${lines[4]}"
	[ "${lines[5]}" = "silent 127.0.0.1 eof=100 reset=0 timeout=0" ] ||
		die "100 silent at once: ${lines[5]}"
	run ! "${IN_NS[@]}" curl -sS --max-time 20 --socks4 127.0.0.1:1080 \
		http://127.0.0.1:9/
	[[ $output == *"request rejected"* ]] || die "curl --socks4: $output"
	run ! "${IN_NS[@]}" curl -sS --max-time 20 --socks5 127.0.0.1:1080 \
		http://127.0.0.1:9/
	[[ $output == *"No authentication method was acceptable"* ]] ||
		die "curl --socks5: $output"
	wait_cmd 20 "not 107 refusals counted: $(refusals 'over a cap' \
		'limit 1$')" refused_count 107 'over a cap' 'limit 1$'
	at_most_per_second "$t0" 'over a cap' 'limit 1$'
	no_resets
	kill_pids "$HELD_PID" || true
	wait_cmd 20 "the session held did not end" reaped_all
	run -0 knock 127.0.0.1 1080 s5:127.0.0.1
	[ "$output" = "s5 127.0.0.1 0500 open" ] || die "then: $output"
}
# alice: USERS, a users file with alice (password secret) that the sessions
# (as nobody) can read.
alice() {
	USERS=$CONFDIR/socks.passwd
	users_file "$USERS" alice secret
	chmod 644 "$USERS"
}

# login5 PASSWORD [curl options]: curl as alice through the listener.
login5() {
	curl -sS --max-time 20 --socks5 "127.0.0.1:$L_PORT" \
		--proxy-user "alice:$1" "${@:2}" "http://127.0.0.1:$HTTP_PORT/"
}

# (make run USERS=FILE passes -u FILE); without one, SOCKS5 clients get no
# login and the first line says so
@test "listener: its first line names the users file, or says there is none" {
	local first="^socks4d\[[0-9]*\]: listening on 127.0.0.1:[0-9]*; .*"
	alice
	start_listener -u "$USERS"
	run -0 grep -m1 "listening on" "$L_LOG"
	[[ $output == *"failed logins within 60 s; users file $USERS" ]] ||
		die "$output"
	stop_listener
	: >"$L_LOG"
	start_listener -u "$CONFDIR/none"
	run -0 grep -m1 "listening on" "$L_LOG"
	[[ $output == *"; no users file ($CONFDIR/none: No such file or\
 directory): SOCKS5 clients get no login, 'user' rules never match" ]] ||
		die "$output"
	stop_listener
	: >"$L_LOG"
	no_default_users
	L_WRAP=("${NO_DEFAULT_USERS[@]}")
	start_listener
	run -0 grep -m1 "listening on" "$L_LOG"
	[[ $output == *"; no users file ($(default_users): No such file or\
 directory; -u names one): SOCKS5 clients get no login, 'user' rules never\
 match" ]] || die "$output"
	[[ $output =~ $first ]] || die "$output"
	stop_listener
	: >"$L_LOG"
	# one root may read but not the sessions: said at once
	L_WRAP=()
	chmod 600 "$USERS"
	start_listener -u "$USERS"
	wait_for_log "$L_LOG" "socks4d\[$L_PID\]: $USERS: Permission denied:\
 every SOCKS5 login will fail until uid 65534 can read it"
}

# -f 3/60/10: three failed logins from a source, and its clients are refused
# (05 ff) for 10 s (room for the checks below on a busy machine), others'
# not; then it is served again
@test "listener: -f: failed logins bring their source a penalty" {
	alice
	start_listener -u "$USERS" -f 3/60/10
	local t0 i
	for i in 1 2 3; do
		[ "$i" != 3 ] || t0=$EPOCHREALTIME
		run -97 login5 wrong
		[[ $output == *"User was rejected"* ]] ||
			die "login $i: $output"
	done
	wait_for_log "$L_LOG" "penalty: 127.0.0.1 failed 3 logins within 60 s: \
its clients are refused until [0-9-]* [0-9:]*$"
	run -97 login5 secret
	[[ $output == *"No authentication method was acceptable"* ]] ||
		die "the right password, under the penalty: $output"
	run -0 knock 127.0.0.1 "$L_PORT" s5:127.0.0.1 s4:127.0.0.1 \
		s5:127.0.0.3
	echo "$output"
	[ "${lines[0]}" = "s5 127.0.0.1 05ff eof" ] || die "${lines[0]}"
	[ "${lines[1]}" = "s4 127.0.0.1 005b000000000000 eof" ] ||
		die "${lines[1]}"
	[ "${lines[2]}" = "s5 127.0.0.3 0500 open" ] ||
		die "another source: ${lines[2]}"
	run -0 login5 secret --interface 127.0.0.3
	logged 'refused a client from 127.0.0.1:[0-9]*: ' \
		'127.0.0.1 has a penalty until [0-9-]* [0-9:]*$'
	run -0 grep -c 'penalty: ' "$L_LOG"
	[ "$output" = 1 ] || die "$output penalty lines"
	wait_cmd 30 "still refused" login5 secret
	(( ${EPOCHREALTIME/./} - ${t0/./} >= 10000000 )) ||
		die "served again within 10 s of the third failure"
}

# fail_from FIRST LAST: a wrong SOCKS5 login for alice from each source
# 127.0.1.FIRST..LAST (past 255 into 127.0.2.x), one after another; prints
# how many were refused as wrong logins (01 01).
fail_from() {
	"$PYTHON" - "$L_PORT" "$1" "$2" <<'PY'
import socket, sys
port, first, last = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
refused = 0
for i in range(first, last + 1):
    s = socket.create_connection(("127.0.0.1", port), timeout=20,
                                 source_address=("127.0.%d.%d" %
                                                 (1 + i // 256, i % 256), 0))
    s.sendall(b"\x05\x01\x02")
    if s.recv(2) == b"\x05\x02":
        s.sendall(b"\x01\x05alice\x05wrong")
        refused += s.recv(2) == b"\x01\x01"
    s.close()
print(refused)
PY
}

# The table of failing sources holds 256: sources failing from 256 other
# addresses (one each, no penalty) fill it, and must not clear the penalty
# of the one that earned it
@test "listener: -f: a penalty outlives a full table of other failing sources" {
	alice
	# a ban of 600 s: 257 logins on a busy machine never outlast it
	start_listener -u "$USERS" -f 2/600/600 -s 4
	run -97 login5 wrong
	run -97 login5 wrong
	wait_for_log "$L_LOG" "penalty: 127.0.0.1 failed 2 logins"
	run -0 fail_from 1 257
	[ "$output" = 257 ] || die "$output of 257 wrong logins refused"
	run -97 login5 secret
	[[ $output == *"No authentication method was acceptable"* ]] ||
		die "the penalty was cleared: $output"
}

@test "listener: -f 0: no penalty, however many logins fail" {
	alice
	start_listener -u "$USERS" -f 0
	grep -q "; no penalty for failed logins; users file $USERS$" "$L_LOG" ||
		die "$(cat "$L_LOG")"
	for _ in $(seq 12); do run -97 login5 wrong; done
	wait_cmd 20 "sessions left" reaped_all
	run -0 login5 secret
	if grep 'penalty: ' "$L_LOG"; then die "a penalty"; fi
}

# nothing else; a session in progress goes on
@test "listener: SIGHUP: one line, and it serves on" {
	start_listener
	start_session
	kill -HUP "$L_PID"
	wait_for_log "$L_LOG" "^socks4d\[$L_PID\]: SIGHUP: nothing to reload: \
every session reads socks.conf and the users file afresh$"
	echo "still here" >&6
	wait_for_log "$SESSION_OUT" '^still here$\|^eof$' 20
	grep -qx 'still here' "$SESSION_OUT" ||
		die "the session broke: $(cat "$SESSION_OUT")"
	curl_page "$L_PORT"
	kill -0 "$L_PID" || die "the listener died"
	run -0 grep -c "^socks4d\[$L_PID\]:" "$L_LOG"
	[ "$output" = 2 ] || die "not two lines: $(cat "$L_LOG")"
	exec 6>&-
}

# RLIMIT_NPROC 1, for the user the listener becomes: each client refused
# (91) and closed cleanly, the failure logged at most once a second, with a
# count
@test "listener: fork() failing: clients refused, logged once a second" {
	[ "$(id -u)" = 0 ] ||
		skip "needs root, to become a user RLIMIT_NPROC holds"
	local t0=$EPOCHREALTIME steps=() i
	netns
	L_WRAP+=(prlimit --nproc=1:1)
	L_LISTEN=127.0.0.1:1080 start_listener
	for i in $(seq 20); do steps+=(s4:127.0.0.1); done
	run -0 knock 127.0.0.1 1080 "${steps[@]}" silent:127.0.0.1:20
	echo "$output"
	[ "${lines[20]}" = "silent 127.0.0.1 eof=20 reset=0 timeout=0" ] ||
		die "20 silent: ${lines[20]}"
	run -0 grep -c '^s4 127.0.0.1 005b000000000000 eof$' <<<"$output"
	[ "$output" = 20 ] || die "$output of 20 refused with 91"
	wait_cmd 20 "not 40 refusals counted: $(refusals 'fork failed' \
		': fork: ')" refused_count 40 'fork failed' ': fork: '
	at_most_per_second "$t0" 'fork failed' ': fork: '
	logged 'refused a client from 127.0.0.1:[0-9]*: ' \
		'fork: Resource temporarily unavailable$'
	no_resets
	kill -0 "$L_PID" || die "the listener died"
}

# and the listener serves on
@test "listener: a session killed by SIGSEGV or SIGKILL is logged" {
	# the sanitizer build would catch the SIGSEGV itself
	ASAN_OPTIONS=handle_segv=0 start_listener
	local sig kid
	for sig in SEGV KILL; do
		exec 5<>"/dev/tcp/127.0.0.1/$L_PORT"
		kid=$(wait_children "$L_PID" 1)
		kill -"$sig" "$kid"
		wait_for_log "$L_LOG" \
			"^socks4d\[$L_PID\]: session $kid ended by signal "
		exec 5>&-
		kill -0 "$L_PID" || die "the listener died with its child"
		curl_page "$L_PORT"
	done
	grep -q "session [0-9]* ended by signal 11 " "$L_LOG" ||
		die "SIGSEGV not logged: $(cat "$L_LOG")"
	grep -q "session [0-9]* ended by signal 9 " "$L_LOG" ||
		die "SIGKILL not logged"
	sed -i '/ended by signal/d' "$L_LOG"	# expected here
}

# a session in progress ends on its own, then exit 0
@test "listener: SIGTERM stops accepting" {
	start_listener -g 60
	start_session
	kill -TERM "$L_PID"
	wait_for_log "$L_LOG" \
		"stopping: no new clients; 1 sessions have 60 s to end"
	run ! curl -sS --max-time 5 --socks4a "127.0.0.1:$L_PORT" \
		"http://localhost:$HTTP_PORT/"
	[[ $output == *"refused"* || $output == *"Couldn't connect"* ||
		$output == *"Failed to connect"* ]] ||
		die "a new client was not refused: $output"
	echo "still here" >&6
	wait_for_log "$SESSION_OUT" '^still here$\|^eof$' 20
	grep -qx 'still here' "$SESSION_OUT" ||
		die "the session in progress broke: $(cat "$SESSION_OUT")"
	local t0=$SECONDS
	exec 6>&-
	wait "$L_PID"
	status=$?
	L_PID=
	[ "$status" = 0 ] || die "exit status $status"
	(( SECONDS - t0 < 30 )) ||
		die "waited for the deadline, not for the session"
	grep -q "stopped: every session ended" "$L_LOG" || die "$(cat "$L_LOG")"
}

# then exit 0
@test "listener: SIGTERM: a session left at the -g deadline is killed" {
	start_listener -g 2
	start_session
	local t0=$SECONDS
	kill -TERM "$L_PID"
	timeout 30 tail --pid="$L_PID" -f /dev/null ||
		die "the listener did not exit within 30 s"
	wait "$L_PID"
	status=$?
	L_PID=
	[ "$status" = 0 ] || die "exit status $status"
	(( SECONDS - t0 >= 1 )) || die "did not wait for the session"
	grep -q "stopped: killed 1 sessions still running after 2 s" "$L_LOG" ||
		die "$(cat "$L_LOG")"
	echo "anyone" >&6
	wait_for_log "$SESSION_OUT" '^anyone$\|^eof$' 20
	grep -qx eof "$SESSION_OUT" ||
		die "the session outlived the listener: $(cat "$SESSION_OUT")"
	exec 6>&-
}

# each applies to the next connection
@test "listener: socks.conf edited in place and replaced by rename" {
	start_listener
	local ino c
	curl_page "$L_PORT"
	ino=$(stat -c %i "$CONF")
	# in place: same file, new text (a deny of everything)
	printf 'deny c *\n' >"$CONF"
	[ "$(stat -c %i "$CONF")" = "$ino" ] || die "not edited in place"
	c=$(client_port)
	run ! curl -sS --fail --max-time 20 --local-port "$c" \
		--socks4a "127.0.0.1:$L_PORT" "http://localhost:$HTTP_PORT/"
	record_of "$c" "$L_LOG" | grep -qx "<Reason> :$CONF:1 denies" ||
		die "edit in place not applied: $(record_of "$c" "$L_LOG")"
	# by rename: a new file (as editors and sed -i write), moved over it
	printf '# replaced\npermit c 127.0.0.1\n' >"$CONFDIR/new"
	chmod 644 "$CONFDIR/new"
	mv "$CONFDIR/new" "$CONF"
	[ "$(stat -c %i "$CONF")" != "$ino" ] || die "not replaced"
	curl_page "$L_PORT"
	# and in place once more, after the rename
	printf 'deny c 127.0.0.0/8\n' >>"$CONF"
	printf 'deny c 127.0.0.0/8\n' >"$CONF"
	run ! curl -sS --fail --max-time 20 --socks4a "127.0.0.1:$L_PORT" \
		"http://localhost:$HTTP_PORT/"
	[[ $output == *"request rejected"* ]] ||
		die "second edit in place not applied: $output"
}

# (Accept=no) hands over its listening socket; with -a fd 3 is still one
# client
@test "listener: systemd-socket-activate without -a" {
	local port c1 c2 ssa_pid p1 p2
	port=$(free_port)
	systemd-socket-activate -l "127.0.0.1:$port" "$SOCKS4D" -c "$CONF" \
		2>>"$L_LOG" 3>&- &
	ssa_pid=$!
	wait_for_port 127.0.0.1 "$port"
	c1=$(client_port)
	curl_page "$port" --local-port "$c1"
	c2=$(client_port)
	curl_page "$port" --local-port "$c2"
	local re="listening on 127.0.0.1:$port; at most 1024 sessions, 128"
	re+=" from one source (IPv6: a /64); a 60 s penalty for 10 failed"
	wait_for_log "$L_LOG" "$re logins within 60 s; .*users file"
	# socks-activate execs socks4d in its own place: one listener, two
	# sessions
	run -0 grep -c "listening on 127.0.0.1:$port" "$L_LOG"
	[ "$output" = 1 ] || die "$output listeners"
	record_of "$c1" "$L_LOG" | grep -qx '<Reply> :Accept' ||
		die "no record for $c1"
	record_of "$c2" "$L_LOG" | grep -qx '<Reply> :Accept' ||
		die "no record for $c2"
	kill_pids "$ssa_pid" || true
	# Accept=yes with fd 3 (no --inetd): a connected socket, served once
	port=$(free_port)
	systemd-socket-activate -a -l "127.0.0.1:$port" "$SOCKS4D" -c "$CONF" \
		2>>"$L_LOG" 3>&- &
	ssa_pid=$!
	wait_for_port 127.0.0.1 "$port"
	c1=$(client_port)
	curl_page "$port" --local-port "$c1"
	record_of "$c1" "$L_LOG" | grep -qx '<Reply> :Accept' ||
		die "Accept=yes: no record for $c1"
	if grep "listening on 127.0.0.1:$port" "$L_LOG"; then die \
		"Accept=yes taken for a listener"; fi
	kill_pids "$ssa_pid" || true
}

# make run says how to pick another
@test "listener: a port in use: socks4d says so and exits 111" {
	start_listener
	run -111 "$SOCKS4D" -c "$CONF" -l "127.0.0.1:$L_PORT"
	[[ $output \
		== *"cannot listen on 127.0.0.1:$L_PORT: Address "*"in use"* \
		]] || die "$output"
	run ! timeout 60 make -s -C "$TOP" run PORT="$L_PORT"
	[[ $output == *"PORT="* ]] || die "make run gave no hint: $output"
	[[ $output == *"in use"* ]] ||
		die "make run did not say the port is in use: $output"
}

# anything else is a usage error
@test "listener: -l takes [ADDR:]PORT, numeric" {
	local bad
	for bad in localhost:1080 1.2.3:80 '::1:1080' '[::1]' 127.0.0.1:0 \
		127.0.0.1:65536 127.0.0.1: ''; do
		run -2 timeout 10 "$SOCKS4D" -c "$CONF" -l "$bad"
		[[ $output == *"not [ADDR:]PORT"* ]] || die "-l '$bad': $output"
	done
	run -2 timeout 10 "$SOCKS4D" -c "$CONF" -l 127.0.0.1:1080 -m 0
	[[ ${lines[0]} == *"-m: '0' is out of range 1..65536"* ]] ||
		die "$output"
	run -2 timeout 10 "$SOCKS4D" -c "$CONF" -l 127.0.0.1:1080 -s x
	for bad in 0 129; do
		run -2 timeout 10 "$SOCKS4D" -c "$CONF" -l 127.0.0.1:1080 \
			-S "$bad"
		[[ ${lines[0]} == *"-S: '$bad' is out of range 1..128"* ]] ||
			die "-S $bad: $output"
	done
	run -2 timeout 10 "$SOCKS4D" -c "$CONF" -l 127.0.0.1:1080 -S x
	[[ ${lines[0]} == *"-S: 'x' is not a number in 1..128"* ]] ||
		die "-S x: $output"
	for bad in 10 10/60 1/2/3/4 a/60/60 10//60 ''; do
		run -2 timeout 10 "$SOCKS4D" -c "$CONF" -l 127.0.0.1:1080 \
			-f "$bad"
		[[ ${lines[0]} == *"-f: '$bad' is not COUNT/SECS/BAN"* ]] ||
			die "-f $bad: $output"
	done
	for bad in 0/60/60 101/60/60 10/0/60 10/60/0 10/86401/60; do
		run -2 timeout 10 "$SOCKS4D" -c "$CONF" -l 127.0.0.1:1080 \
			-f "$bad"
		[[ ${lines[0]} == *"-f: '$bad' is out of range: COUNT"* ]] ||
			die "-f $bad: $output"
	done
}

# units_test: SD_PID, the systemd to install units in: this machine's ("-"),
# or where PID 1 is not systemd a private one, stopped at teardown; and
# UNIT, PORT, UNIT_CONF_TEXT (loopback permitted) and T0 for the test's unit.
units_test() {
	[ "$(id -u)" = 0 ] || skip "installing units needs root"
	SD_PID=-
	if [ ! -d /run/systemd/system ]; then
		SD_PID=$("$BATS_TEST_DIRNAME/private_systemd.sh" start) ||
			skip_no_systemd
		SD_STARTED=$SD_PID
	fi
	UNIT=socks4d-ltest-$$-$RANDOM
	PORT=$(free_port)
	UNIT_CONF_TEXT='permit c 127.0.0.0/8'
	T0=$(date +%s)
}

# put FILE: stdin into FILE, where the units run.
put() { sd sh -c 'cat >"$1"' sh "$1"; }

# install_listener_units: the shipped listener units as $UNIT on $PORT, with
# socks4d from this tree and $UNIT_CONF_TEXT as a socks.conf that only the
# group nogroup may read, and Group=nogroup standing in for the static group
# socks4d that an installation would create (a test must not add groups).
install_listener_units() {
	local sys=/run/systemd/system
	printf '%s\n' "$UNIT_CONF_TEXT" >"$BATS_TEST_TMPDIR/unit.conf"
	"$BATS_TEST_DIRNAME/private_systemd.sh" listener-units "$SD_PID" \
		"$UNIT" "$PORT" \
		"$SOCKS4D" "$BATS_TEST_TMPDIR/unit.conf" "$@"
	# The service starts with the first client: there is time to change it.
	sd chgrp nogroup "/run/$UNIT/socks.conf"
	sd chmod 640 "/run/$UNIT/socks.conf"
	sd mkdir -p "$sys/$UNIT.service.d"
	# (the sanitizer build's leak check at exit hangs in the unit's sandbox)
	printf '%s\n' '[Service]' Group=nogroup \
		Environment=ASAN_OPTIONS=detect_leaks=0 |
		put "$sys/$UNIT.service.d/group.conf"
	sd systemctl daemon-reload
}

# records [MATCH...]: "_PID SYSLOG_PID SOCKS_REPLY" of each record (a
# MESSAGE=CONNECT entry) in the journal since $T0 that MATCHes.
records() {
	sd journalctl --no-pager -o export --since "@$T0" "$@" |
		awk '/^_PID=/ { p = substr($0, 6) }
		     /^SYSLOG_PID=/ { s = substr($0, 12) }
		     /^SOCKS_REPLY=/ { r = substr($0, 13) }
		     /^MESSAGE=CONNECT / { c = 1 }
		     /^$/ {
			if (c) print p, (s == "" ? "-" : s), r
			p = s = r = c = ""
		     }'
}

# has_records N MATCH...: at least N records MATCH.
has_records() { [ "$(records "${@:2}" | grep -c .)" -ge "$1" ]; }

# state_is STATE: the unit under test is in ActiveState STATE.
state_is() { [ "$(sd systemctl show -P ActiveState "$UNIT.service")" = "$1" ]; }

# journal_has ERE [MATCH...]: the unit's journal, as -o cat, matches ERE.
journal_has() { sd journalctl --no-pager -o cat -u "$UNIT.service" "${@:2}" |
	grep -qE -- "$1"; }

# forwarded_by_other PID: the PIDs other than PID that forwarded records.
forwarded_by_other() {
	records -u "$UNIT.service" |
		awk -v old="$1" '$1 != old && $2 != "-" { print $1 }' | sort -u
}

has_other_forwarder() { [ -n "$(forwarded_by_other "$1")" ]; }

# own_record CPORT: a record, with no SYSLOG_PID, of the client from CPORT.
own_record() {
	records SYSLOG_IDENTIFIER=socks4d SOCKS_SRC="127.0.0.1:$1" |
		grep -q '^[0-9]* - Accept$'
}

# one listener forks every session, reads a group-only socks.conf afresh,
# drains on stop
@test "units: socks4d-listener.socket (Accept=no) + .service" {
	units_test
	# -m 2: every later client needs the slot of one that ended
	install_listener_units -m 2
	wait_for_port 127.0.0.1 "$PORT"
	for i in 1 2 3 4; do curl_page "$PORT"; done
	local main recs pids forwarder old c conf=/run/$UNIT/socks.conf
	main=$(sd systemctl show -P MainPID "$UNIT.service")
	[ "$main" -gt 0 ] || die "no main process"
	run -0 sd ps -o uid= -p "$main"
	[ "${output// /}" != 0 ] || die "the listener runs as root"
	# Four records, with their fields and found by unit: sent by the
	# forwarder, each naming the session that served the client.
	wait_cmd 30 "not four records" has_records 4 -u "$UNIT.service"
	recs=$(records -u "$UNIT.service")
	echo "$recs"
	pids=$(awk '$3 == "Accept" { print $2 }' <<<"$recs" | sort -u)
	[ "$(grep -c '^[0-9]' <<<"$pids")" -ge 4 ] ||
		die "not four sessions in SYSLOG_PID: $pids"
	if grep -qx "$main" <<<"$pids"; then die \
		"the listener $main served a client itself"; fi
	forwarder=$(awk '{ print $1 }' <<<"$recs" | sort -u)
	[ "$(grep -c . <<<"$forwarder")" = 1 ] ||
		die "not one sender: $forwarder"
	[ "$forwarder" != "$main" ] && ! grep -qx "$forwarder" <<<"$pids" ||
		die "sent by $forwarder: not a forwarder"
	# socks.conf, readable by the group only: edited in place, then replaced
	printf 'deny c 127.0.0.0/8\n' | sd sh -c "cat >$conf"
	run ! curl -sS --fail --max-time 20 --socks4a "127.0.0.1:$PORT" \
		"http://localhost:$HTTP_PORT/"
	[[ $output == *"request rejected"* ]] ||
		die "edit in place not applied: $output"
	printf '# replaced\npermit c 127.0.0.0/8\n' | put "$conf.new"
	sd sh -c "chgrp nogroup $conf.new && chmod 640 $conf.new &&
		mv $conf.new $conf"
	curl_page "$PORT"
	[ "$(sd systemctl show -P MainPID "$UNIT.service")" = "$main" ] ||
		die "the listener was restarted"
	# stop: the session in progress ends on its own, then the listener exits
	# 0
	L_PORT=$PORT start_session
	sd systemctl stop --no-block "$UNIT.socket" "$UNIT.service"
	wait_cmd 30 "not stopping" state_is deactivating
	echo "still here" >&6
	wait_for_log "$SESSION_OUT" '^still here$\|^eof$' 20
	grep -qx 'still here' "$SESSION_OUT" ||
		die "the stop broke the session: $(cat "$SESSION_OUT")"
	exec 6>&-
	wait_cmd 40 "not inactive" state_is inactive
	run -0 sd systemctl show -P Result "$UNIT.service"
	[ "$output" = success ] || die "Result=$output"
	# journald may store the last lines a moment after the unit ended
	wait_cmd 30 "no 'stopped' line" journal_has \
		'stopped: every session ended'
	# the forwarder passed on the last session's end line ("still here\n"
	# each way; after its record, in one entry if it ended within a second
	# of its first bytes) before it went
	wait_cmd 30 "no end line of the last session" \
		journal_has '(^|; )end: 11 bytes to client, 11 from client' \
		_PID="$forwarder"
	# Without its forwarder the listener goes on; sessions send themselves.
	T0=$(date +%s)
	sd systemctl start "$UNIT.socket"
	curl_page "$PORT"
	old=$forwarder
	wait_cmd 30 "no record from a new forwarder" has_other_forwarder "$old"
	forwarder=$(forwarded_by_other "$old")
	sd kill -KILL "$forwarder"
	wait_cmd 30 "the forwarder's end not logged" journal_has \
		'journal forwarder ended'
	# a session of its own: a record with no SYSLOG_PID, from this client
	c=$(client_port)
	curl_page "$PORT" --local-port "$c"
	wait_cmd 30 "no record of a session's own" own_record "$c"
}

# file_records N FILE: FILE, where the units run, has N accepted records.
file_records() { [ "$(sd grep -c '^<Reply> :Accept$' "$2")" -ge "$1" ]; }

# childless PID: PID, where the units run, has no child process.
childless() { ! sd pgrep -P "$1" >/dev/null; }

# examples/socks4d-listener-records-file.conf; no journal forwarder runs
@test "units: the records-file drop-in: records in that file, no forwarder" {
	units_test
	local log=/run/$UNIT/records.log main
	sed "s|^StandardError=append:.*|StandardError=append:$log|" \
		"$TOP/examples/socks4d-listener-records-file.conf" \
		>"$BATS_TEST_TMPDIR/records-file.conf"
	grep -qx "StandardError=append:$log" \
		"$BATS_TEST_TMPDIR/records-file.conf" ||
		die "the drop-in sends stderr nowhere"
	UNIT_DROPIN=$BATS_TEST_TMPDIR/records-file.conf install_listener_units
	wait_for_port 127.0.0.1 "$PORT"
	curl_page "$PORT"
	curl_page "$PORT"
	wait_cmd 30 "not two records in $log" file_records 2 "$log"
	main=$(sd systemctl show -P MainPID "$UNIT.service")
	[ "$main" -gt 0 ] || die "no main process"
	wait_cmd 30 "the listener keeps a child: a journal forwarder" \
		childless "$main"
	[ -z "$(records -u "$UNIT.service")" ] ||
		die "records in the journal too"
}

# as README and the unit's comment say: the dynamic user could not read the
# file itself; socks4d finds it in $CREDENTIALS_DIRECTORY (with no users
# file, no login is asked for, and the rule's "user alice" denies)
@test "units: the users file through LoadCredential= (a drop-in): logins" {
	units_test
	local sys=/run/systemd/system run=/run/$UNIT
	UNIT_CONF_TEXT='permit c 127.0.0.0/8 user alice'
	install_listener_units
	users_file "$BATS_TEST_TMPDIR/socks.passwd" alice 's3cret pass'
	put "$run/socks.passwd" <"$BATS_TEST_TMPDIR/socks.passwd"
	sd chmod 600 "$run/socks.passwd"
	printf '%s\n' '[Service]' \
		"LoadCredential=socks.passwd:$run/socks.passwd" |
		put "$sys/$UNIT.service.d/credential.conf"
	sd systemctl daemon-reload
	# (the first connection starts the service, with the drop-in)
	wait_for_port 127.0.0.1 "$PORT"
	run curl -sS --fail --max-time 20 --proxy-user 'alice:s3cret pass' \
		--socks5 "127.0.0.1:$PORT" "http://127.0.0.1:$HTTP_PORT/"
	[ "$output" = "$MARKER" ] || die "not the page: $output;" \
		"$(sd journalctl --no-pager -o cat -u "$UNIT.service" | tail)"
	run ! curl -sS --fail --max-time 20 --proxy-user alice:wrong \
		--socks5 "127.0.0.1:$PORT" "http://127.0.0.1:$HTTP_PORT/"
	[[ $output == *"rejected by the SOCKS5 server"* ]] ||
		die "not a failed login: $output"
}

# most of them, under a journald allowing 10 entries in 30 s
@test "units: socks4d-listener.service keeps records journald would drop" {
	units_test
	[ "$SD_PID" != - ] || skip "it would change this machine's journald"
	sd mkdir -p /run/systemd/journald.conf.d
	printf '[Journal]\nRateLimitIntervalSec=30s\nRateLimitBurst=10\n' |
		put /run/systemd/journald.conf.d/ratelimit.conf
	sd systemctl restart systemd-journald.service
	install_listener_units
	wait_for_port 127.0.0.1 "$PORT"
	# 600 sessions in a few seconds, an entry or two each: journald's
	# limit, scaled up for free space (3.5 times with a journal in /run of
	# a few GiB, 12 at most), keeps a few dozen
	for _ in 1 2 3 4 5 6; do
		run -0 "$PYTHON" "$BATS_TEST_DIRNAME/load_client.py" "$PORT" \
			127.0.0.2 "$ECHO_PORT" \
			--sessions 100 --bytes 100
	done
	wait_cmd 30 "not 600 records" has_records 600 -u "$UNIT.service"
}

# (security --offline=yes)
@test "units: socks4d-listener.service rates at most 1.0 in systemd-analyze" {
	local out level re
	out=$(cd "$TOP" &&
		systemd-analyze security --offline=yes \
		socks4d-listener.service 2>&1)
	re='.*Overall exposure level for socks4d-listener[^:]*: '
	level=$(sed -nE "s/$re([0-9]+\.[0-9]+) .*/\1/p" <<<"$out")
	echo "# socks4d-listener.service: exposure $level" >&3
	[ -n "$level" ] || die "no exposure level: $out"
	awk -v l="$level" 'BEGIN { exit !(l <= 1.0) }' ||
		die "exposure $level > 1.0"
}

# (in a network namespace of its own)
@test "listener: a bare port listens on every address, IPv4 and IPv6" {
	[ "$(id -u)" = 0 ] || skip "a network namespace needs root"
	command -v unshare >/dev/null || skip "no unshare"
	run -0 timeout 60 unshare --net bash -s "$SOCKS4D" "$CONF" \
		"$BATS_FILE_TMPDIR/www" "$MARKER" "$PYTHON" <<'SH'
		set -eu
		socks4d=$1 conf=$2 www=$3 marker=$4 python=$5
		ip link set lo up
		cd "$(mktemp -d)"
		"$python" -m http.server --bind 127.0.0.1 --directory "$www" \
			8000 >/dev/null 2>&1 &
		web=$!
		"$socks4d" -c "$conf" -l 1080 2>log &
		l=$!
		trap 'kill $web $l; rm -f log; rmdir "$PWD"' EXIT
		for _ in $(seq 100); do
			grep -q 'listening on' log && break
			sleep 0.05
		done
		grep 'listening on' log
		for proxy in 127.0.0.1:1080 '[::1]:1080'; do
			for _ in $(seq 100); do
				got=$(curl -sS --max-time 10 --socks4 "$proxy" \
					http://127.0.0.1:8000/ 2>&1) && break
				sleep 0.05
			done
			[ "$got" = "$marker" ] ||
				{ echo "through $proxy: $got"; exit 1; }
			echo "served through $proxy"
		done
SH
	echo "$output"
	[[ $output == *"listening on [::]:1080;"* ]] ||
		die "not one dual-stack socket"
	[[ $output == *"served through 127.0.0.1:1080"* ]] ||
		die "IPv4 not served"
	[[ $output == *"served through [::1]:1080"* ]] || die "IPv6 not served"
}
