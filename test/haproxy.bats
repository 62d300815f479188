#!/usr/bin/env bats
# HAProxy (TCP mode, SOCKS4 health checks) in front of two socks4d
# listeners, each a systemd-socket-activate with its own log, all on
# loopback.  The configuration is examples/haproxy.cfg, rendered with free
# ports, a log on stdout and a stats socket of the test; a third server whose
# listener accepts but runs no socks4d shows what the health check catches.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper

N=40

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www"
	export MARKER="haproxy page $RANDOM$RANDOM"
	printf '<html><body>%s</body></html>\n' "$MARKER" >"$d/www/index.html"
	start_web HTTP 127.0.0.2 "$d/www"

	printf 'permit c 127.0.0.2\n' >"$d/socks.conf"
	start_socks4d_as A "$d/socks.conf"
	start_socks4d_as B "$d/socks.conf"
	# Accepts, then closes: a listener without a working socks4d behind it.
	serve DUD 127.0.0.1 "$d/dud.log" with_port \
		systemd-socket-activate -a --inetd -l 127.0.0.1:@PORT@ true

	export LB_SOCK=$d/admin.sock LB_CFG=$d/haproxy.cfg LB_LOG=$d/haproxy.log
	serve LB 127.0.0.1 "$LB_LOG" run_haproxy
}

teardown_file() {
	kill_pids "${LB_PID:-}" "${A_PID:-}" "${B_PID:-}" "${DUD_PID:-}" \
		"${HTTP_PID:-}"
}

# run_haproxy PORT: HAProxy in the foreground, the frontend on PORT.
run_haproxy() {
	LB_PORT=$1 render_cfg >"$LB_CFG"
	exec haproxy -db -f "$LB_CFG"
}

teardown() {
	# shown when a test fails
	tail -n 20 "$LB_LOG"
}

# render_cfg: examples/haproxy.cfg for this test: no chroot, user or
# daemon; log on stdout; the stats socket, the frontend and the servers on
# the test's paths and ports; fast checks; plus the dud server.
render_cfg() {
	local dflt='^(\s*)default-server inter \S+ fall [0-9]+ rise [0-9]+'
	sed -E -e '/^\s*(chroot|user|group|daemon)(\s|$)/d' \
		-e "s|^(\s*)log /dev/log .*|\1log stdout format raw local0|" \
		-e "s|^(\s*)stats socket \S+|\1stats socket $LB_SOCK|" \
		-e "s|^(\s*)bind \S+|\1bind 127.0.0.1:$LB_PORT|" \
		-e "s|$dflt|\1default-server inter 300ms fall 3 rise 1|" \
		-e "s|^(\s*server socks4d-1) \S+|\1 127.0.0.1:$A_PORT|" \
		-e "s|^(\s*server socks4d-2) \S+|\1 127.0.0.1:$B_PORT|" \
		"$TOP/examples/haproxy.cfg"
	printf '\tserver dud 127.0.0.1:%s check\n' "$DUD_PORT"
}

# status SERVER: HAProxy's view of SERVER in backend socks4d (UP, DOWN, ...).
status() {
	echo "show stat" | socat -t 2 - "UNIX-CONNECT:$LB_SOCK" |
		awk -F, -v s="$1" '$1 == "socks4d" && $2 == s { print $18 }'
}

# wait_status SERVER STATE [SECS]
wait_status() {
	local end=$((SECONDS + ${3:-10})) now
	while now=$(status "$1"); [ "$now" != "$2" ]; do
		(( SECONDS < end )) || die "server $1 is '$now', not $2"
		sleep 0.1
	done
}

# fetch_pages COUNT PARALLEL: COUNT curl --socks4 through HAProxy, PARALLEL
# at a time; fails unless every one got the page.
fetch_pages() {
	local out=$BATS_TEST_TMPDIR/fetch
	mkdir -p "$out"
	seq "$1" | xargs -P "$2" -I{} curl -sS --fail --max-time 20 \
		--socks4 "127.0.0.1:$LB_PORT" -o "$out/{}.html" \
		"http://127.0.0.2:$HTTP_PORT/"
	[ "$(grep -lF "$MARKER" "$out"/*.html | wc -l)" -eq "$1" ]
}

accepted="<D_IP> :127\.0\.0\.2\|<D_PORT> :[0-9]+\|<Command> :CONNECT\|"
accepted+="<Reply> :Accept\|<Content> :GET / "
count_accepted() { log_since "$1" "$2" | recs | grep -cE -- "$accepted" ||
	true; }

@test "examples/haproxy.cfg as shipped is a valid HAProxy configuration" {
	run -0 haproxy -c -f "$TOP/examples/haproxy.cfg"
	run -0 haproxy -c -f "$LB_CFG"
	grep -q "server socks4d-1 127.0.0.1:$A_PORT check" "$LB_CFG"
	grep -q "server socks4d-2 127.0.0.1:$B_PORT check" "$LB_CFG"
	grep -q "bind 127.0.0.1:$LB_PORT" "$LB_CFG"
}

# (reply 91, no network touched) and catches a listener without socks4d
@test "the SOCKS4 health check reaches both socks4d, catches one without" {
	wait_status socks4d-1 UP
	wait_status socks4d-2 UP
	wait_status dud DOWN
	local log ere="<D_IP> :0\.0\.0\.0\|<D_PORT> :0\|<Command> :CONNECT\|"
	ere+="<Reply> :Reject\|<Reason> :destination 0\.0\.0\.0 or port 0\|"
	for log in "$A_LOG" "$B_LOG"; do
		run -0 wait_recs "$log" 0 "$ere" 1
	done
}

@test "$N curl --socks4 through HAProxy all succeed, spread over both socks4d" {
	wait_status socks4d-1 UP
	wait_status socks4d-2 UP
	wait_status dud DOWN
	local a b offa offb end=$((SECONDS + 10))
	offa=$(log_size "$A_LOG") offb=$(log_size "$B_LOG")
	fetch_pages "$N" 8
	while a=$(count_accepted "$A_LOG" "$offa") b=$(count_accepted "$B_LOG" \
		"$offb");
		(( a + b < N && SECONDS < end )); do
		sleep 0.1
	done
	echo "# socks4d-1: $a sessions, socks4d-2: $b" >&3
	[ $((a + b)) -eq "$N" ]
	[ "$a" -ge $((N / 4)) ]
	[ "$b" -ge $((N / 4)) ]
}

# (redispatch) and after (DOWN)
@test "one socks4d gone: no client fails, before its check notices" {
	wait_status socks4d-1 UP
	wait_status socks4d-2 UP
	local a offa end=$((SECONDS + 10))
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
