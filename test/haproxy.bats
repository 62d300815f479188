#!/usr/bin/env bats
# HAProxy (TCP mode, PROXY protocol v2, SOCKS4 health checks after a v2
# LOCAL header) in front of two socks4d, all on loopback: socks4d-1 under
# systemd-socket-activate --inetd on 127.0.0.11, socks4d-2 a listener
# (-l) on 127.0.0.12, both told HAProxy's address (127.0.0.9) with -P.
# The configuration is examples/haproxy.cfg, rendered with free ports, a
# log on stdout, a stats socket of the test and HAProxy's source address;
# two more servers show what the health check catches: a socks4d not told
# -P, and a listener without socks4d that writes down the bytes each
# check sent.  Clients come from 127.0.0.21 (permitted by socks.conf) and
# 127.0.0.22 (denied).
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=90
load test_helper

N=40
LB_SRC=127.0.0.9	# HAProxy's address toward the socks4d, what -P names
OK_SRC=127.0.0.21	# a client that socks.conf permits
NO_SRC=127.0.0.22	# one it denies
# per client in the rendered configuration (128 as shipped)
PER_CLIENT=16

# The dud: accepts, writes each connection's bytes in hex (up to the end of
# the check's request, or 5 s), one line each, and closes without a reply.
DUD_PY='import socket, sys
s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    c = s.accept()[0]
    c.settimeout(5)
    b = b""
    try:
        while not b.endswith(b"haproxy-check\0"):
            d = c.recv(4096)
            if not d:
                break
            b += d
    except OSError:
        pass
    print(b.hex(), flush=True)
    c.close()'

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www"
	export MARKER="haproxy page $RANDOM$RANDOM"
	printf '<html><body>%s</body></html>\n' "$MARKER" >"$d/www/index.html"
	start_web HTTP 127.0.0.2 "$d/www"

	# The listener's sessions (nobody) read socks.conf by path.
	shared_dir
	export SHARED CONF=$SHARED/socks.conf
	printf 'deny c * from %s\npermit c 127.0.0.2 from %s\n' \
		"$NO_SRC" "$OK_SRC" >"$CONF"
	chmod 644 "$CONF"
	export A_LOG=$d/A.log B_LOG=$d/B.log DUD_LOG=$d/dud.log
	serve A 127.0.0.11 "$A_LOG" with_port systemd-socket-activate -a \
		--inetd -l 127.0.0.11:@PORT@ "$SOCKS4D" -c "$CONF" -P "$LB_SRC"
	serve B 127.0.0.12 "$B_LOG" with_port \
		"$SOCKS4D" -c "$CONF" -l 127.0.0.12:@PORT@ -P "$LB_SRC"
	# socks4d as on a host where -P was forgotten
	serve NOP 127.0.0.1 "$d/nop.log" with_port systemd-socket-activate -a \
		--inetd -l 127.0.0.1:@PORT@ "$SOCKS4D" -c "$CONF"
	serve DUD 127.0.0.1 "$DUD_LOG" with_port "$PYTHON" -c "$DUD_PY" @PORT@

	export LB_SOCK=$d/admin.sock LB_CFG=$d/haproxy.cfg LB_LOG=$d/haproxy.log
	serve LB 127.0.0.1 "$LB_LOG" run_haproxy
}

teardown_file() {
	kill_pids "${LB_PID:-}" "${A_PID:-}" "${B_PID:-}" "${NOP_PID:-}" \
		"${DUD_PID:-}" "${HTTP_PID:-}"
	no_sanitizer_reports "$A_LOG"
	no_sanitizer_reports "$B_LOG"
	[ -z "${SHARED:-}" ] || rm -rf "$SHARED"
}

# run_haproxy PORT: HAProxy in the foreground, the frontend on PORT.
run_haproxy() {
	LB_PORT=$1 render_cfg >"$LB_CFG"
	exec haproxy -db -f "$LB_CFG"
}

teardown() {
	kill_pids "${HELD_PID:-}"
	HELD_PID=
	# shown when a test fails
	tail -n 20 "$LB_LOG"
}

# render_cfg: examples/haproxy.cfg for this test: no chroot, user or
# daemon; log on stdout; the stats socket, the frontend and the servers on
# the test's paths and ports; HAProxy's source address; fast checks; a
# lower limit per client; plus the socks4d without -P and the dud.
render_cfg() {
	sed -E -e '/^\s*(chroot|user|group|daemon)(\s|$)/d' \
		-e "s|^(\s*)log /dev/log .*|\1log stdout format raw local0|" \
		-e "s|^(\s*)stats socket \S+|\1stats socket $LB_SOCK|" \
		-e "s|^(\s*)bind \S+|\1bind 127.0.0.1:$LB_PORT|" \
		-e "s|(sc0_conn_cur gt )[0-9]+|\1$PER_CLIENT|" \
		-e "s|^(\s*)balance .*|&\n\1source $LB_SRC|" \
		-e "/^\s*default-server /s/ inter \S+/ inter 300ms/" \
		-e "/^\s*default-server /s/ rise [0-9]+/ rise 1/" \
		-e "s|^(\s*server socks4d-1) \S+|\1 127.0.0.11:$A_PORT|" \
		-e "s|^(\s*server socks4d-2) \S+|\1 127.0.0.12:$B_PORT|" \
		"$TOP/examples/haproxy.cfg"
	printf '\tserver noproxy 127.0.0.1:%s check\n' "$NOP_PORT"
	printf '\tserver dud 127.0.0.1:%s check\n' "$DUD_PORT"
}

# lb_stat SERVER COLUMN: HAProxy's view of SERVER in backend socks4d, the
# "show stat" column COLUMN (status: UP, DOWN...; check_status: L7OK...,
# without the "* " of a check under way).
lb_stat() {
	echo "show stat" | socat -t 2 - "UNIX-CONNECT:$LB_SOCK" |
		awk -F, -v s="$1" -v c="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i }
		$1 == "socks4d" && $2 == s { v = $col; sub(/^\* /, "", v)
			print v }'
}

# wait_status SERVER STATE [SECS]
wait_status() {
	local end=$((SECONDS + ${3:-20})) now
	while now=$(lb_stat "$1" status); [ "$now" != "$2" ]; do
		(( SECONDS < end )) || die "server $1 is '$now', not $2"
		sleep 0.1
	done
}

# check_ok SERVER: SERVER's last check passed (the 00 5b came).
check_ok() { [ "$(lb_stat "$1" check_status)" = L7OK ]; }

# all_up: the two socks4d UP, the two that the check catches DOWN.
all_up() {
	wait_status socks4d-1 UP
	wait_status socks4d-2 UP
	wait_status noproxy DOWN
	wait_status dud DOWN
}

# fetch_pages COUNT PARALLEL: COUNT curl --socks4 through HAProxy from
# $OK_SRC, PARALLEL at a time; fails unless every one got the page.
fetch_pages() {
	local out=$BATS_TEST_TMPDIR/fetch
	mkdir -p "$out"
	seq "$1" | xargs -P "$2" -I{} curl -sS --fail --max-time 20 \
		--interface "$OK_SRC" --socks4 "127.0.0.1:$LB_PORT" \
		-o "$out/{}.html" "http://127.0.0.2:$HTTP_PORT/"
	[ "$(grep -lF "$MARKER" "$out"/*.html | wc -l)" -eq "$1" ]
}

# fetch SRC CPORT: one curl --socks4 through HAProxy from SRC:CPORT.
fetch() {
	curl -sS --fail --max-time 20 --interface "$1" --local-port "$2" \
		--socks4 "127.0.0.1:$LB_PORT" "http://127.0.0.2:$HTTP_PORT/"
}

accepted="^<S_IP> :${OK_SRC//./\\.}\|.*<D_IP> :127\.0\.0\.2\|<D_PORT> :"
accepted+="[0-9]+\|<Command> :CONNECT\|<Reply> :Accept\|.*<Content> :GET / "
count_accepted() { log_since "$1" "$2" | recs | grep -cE -- "$accepted" ||
	true; }

# record_at CPORT: the record of the client from port CPORT, one field a
# line, from whichever socks4d served it; waits for it.
record_at() {
	local rs=$'\036' rec log end=$((SECONDS + 20))
	while :; do
		for log in "$A_LOG" "$B_LOG"; do
			rec=$(recs "$rs" <"$log" |
				grep -F -- "$rs<S_PORT> :$1$rs" | tail -n 1)
			[ -z "$rec" ] || { tr '\036' '\n' <<<"$rec"; return 0; }
		done
		(( SECONDS < end )) || die "no record of client port $1"
		sleep 0.1
	done
}

# via_lb: the record on stdin names HAProxy's address, any port, as <Via>.
via_lb() { grep -qxE -- "<Via> :${LB_SRC//./\\.}:[0-9]+" ||
	die "no '<Via> :$LB_SRC:PORT' in the record"; }

# counted ADDR N: HAProxy's table counts N connections from ADDR now.
counted() {
	echo "show table socks" | socat -t 2 - "UNIX-CONNECT:$LB_SOCK" |
		grep -q "key=::ffff:${1//./\\.} .* conn_cur=$2\$"
}

# connections LOG OFFSET: how many connections HAProxy made to the
# socks4d under systemd-socket-activate whose log is LOG, after OFFSET.
connections() {
	log_since "$1" "$2" | grep -c "^Connection from ${LB_SRC//./\\.}:" ||
		true
}

@test "examples/haproxy.cfg as shipped is a valid HAProxy configuration" {
	run -0 haproxy -c -f "$TOP/examples/haproxy.cfg"
	run -0 haproxy -c -f "$LB_CFG"
	grep -q "server socks4d-1 127.0.0.11:$A_PORT check" "$LB_CFG"
	grep -q "server socks4d-2 127.0.0.12:$B_PORT check" "$LB_CFG"
	grep -q "bind 127.0.0.1:$LB_PORT" "$LB_CFG"
	grep -q "source $LB_SRC" "$LB_CFG"
	grep -q "sc0_conn_cur gt $PER_CLIENT" "$LB_CFG"
}

# What HAProxy sends, as the dud saw it: the 16-byte v2 header, command
# LOCAL (0x20), family and length 0; then the SOCKS4 request.
@test "checks send PROXY v2 LOCAL, then SOCKS4; a socks4d without -P is down" {
	all_up
	local local_hdr=0d0a0d0a000d0a515549540a20000000
	local check=0401000000000000686170726f78792d636865636b00
	run -0 wait_lines "$DUD_LOG" 0 . 3
	run -0 sort -u "$DUD_LOG"
	[ "$output" = "$local_hdr$check" ] || die "the dud got: $output"
}

# socks4d-1 logs each connection (systemd-socket-activate), socks4d-2 does
# not: while HAProxy checks socks4d-1 five times, it checks socks4d-2 as
# often; the checks pass (L7OK: the 00 5b came).
@test "health checks pass and leave no record in either socks4d" {
	all_up
	local offa offb out
	offa=$(log_size "$A_LOG") offb=$(log_size "$B_LOG")
	checked() { (( $(connections "$A_LOG" "$offa") >= 5 )); }
	wait_cmd 30 "fewer than 5 checks of socks4d-1" checked
	wait_cmd 30 "socks4d-1's last check failed" check_ok socks4d-1
	wait_cmd 30 "socks4d-2's last check failed" check_ok socks4d-2
	out=$(log_since "$A_LOG" "$offa" | recs)
	[ -z "$out" ] || die "socks4d-1 recorded checks: $out"
	out=$(log_since "$B_LOG" "$offb" | recs)
	[ -z "$out" ] || die "socks4d-2 recorded checks: $out"
}

# socks.conf denies $NO_SRC and permits $OK_SRC only: HAProxy's address
# ($LB_SRC) matches neither, so each decision is taken on the client's own.
@test "from rules judge each client's own address; records name it, HAProxy" {
	all_up
	local i c rec
	for i in 1 2 3 4; do
		c=$(client_port)
		run -0 fetch "$OK_SRC" "$c"
		[[ $output == *"$MARKER"* ]]
		rec=$(record_at "$c")
		has "$rec" "<S_IP> :$OK_SRC"
		has "$rec" '<Reply> :Accept'
		via_lb <<<"$rec"

		c=$(client_port)
		run ! fetch "$NO_SRC" "$c"
		rec=$(record_at "$c")
		has "$rec" "<S_IP> :$NO_SRC"
		has "$rec" '<Reply> :Reject'
		has "$rec" "<Reason> :$CONF:1 denies"
		via_lb <<<"$rec"
	done
}

@test "$N curl --socks4 through HAProxy all succeed, spread over both socks4d" {
	all_up
	local a b offa offb end=$((SECONDS + 20))
	offa=$(log_size "$A_LOG") offb=$(log_size "$B_LOG")
	fetch_pages "$N" 8
	while a=$(count_accepted "$A_LOG" "$offa") b=$(count_accepted "$B_LOG" \
		"$offb");
		(( a + b < N && SECONDS < end )); do
		sleep 0.1
	done
	echo "# socks4d-1: $a sessions, socks4d-2: $b" >&3
	[ $((a + b)) -eq "$N" ]
	[ "$a" -ge $((N / 8)) ]
	[ "$b" -ge $((N / 8)) ]
}

# socks4d counts HAProxy as the one source; the frontend counts clients:
# once its table holds $PER_CLIENT connections of $NO_SRC, the next one is
# closed before it reaches a socks4d (which would answer its SOCKS4
# request with a refusal), and $OK_SRC is still served.
@test "HAProxy limits connections per client, socks4d's cap sees one source" {
	all_up
	local c out=$BATS_TEST_TMPDIR/over
	"$PYTHON" - "$LB_PORT" "$NO_SRC" "$PER_CLIENT" "$out" 3>&- <<'PY' &
import os, socket, sys, time
port, src, n, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), \
    sys.argv[4]
def conn():
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s
held = [conn() for _ in range(n)]
while not os.path.exists(out + ".go"):
    time.sleep(0.05)
over = conn()
over.settimeout(20)
try:
    over.sendall(b"\x04\x01\x00\x50\x7f\x00\x00\x02\x00")
    got = "answered" if over.recv(8) else "closed"
except ConnectionError:
    got = "closed"
except socket.timeout:
    got = "open"
with open(out, "w") as f:
    f.write(got + "\n")
time.sleep(30)
PY
	HELD_PID=$!
	# HAProxy's threads run the rule of each connection in any order
	wait_cmd 30 "HAProxy does not count $PER_CLIENT from $NO_SRC" \
		counted "$NO_SRC" "$PER_CLIENT"
	touch "$out.go"
	wait_cmd 30 "the client over the limit got no answer" test -s "$out"
	run -0 cat "$out"
	[ "$output" = closed ] || die "over the limit: $output"
	c=$(client_port)
	run -0 fetch "$OK_SRC" "$c"
	[[ $output == *"$MARKER"* ]]
}

# (redispatch) and after (DOWN); socks4d-2 is the listener, stopped by PID
@test "one socks4d gone: no client fails, before its check notices" {
	all_up
	local a offa end=$((SECONDS + 20))
	offa=$(log_size "$A_LOG")
	kill "$B_PID" && wait "$B_PID" 2>/dev/null || true
	# one at a time, well within the 3 failed checks (900 ms) it takes to
	# mark socks4d-2 down: leastconn sends about half of them there
	fetch_pages 6 1
	wait_status socks4d-2 DOWN
	fetch_pages 10 4
	while a=$(count_accepted "$A_LOG" "$offa"); (( a < 16 &&
		SECONDS < end )); do
		sleep 0.1
	done
	[ "$a" -eq 16 ]
}
