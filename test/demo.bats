#!/usr/bin/env bats
# make demo as a user runs it, from a terminal (a pseudo-terminal here): it
# prints the form filled in with its values, and Ctrl-C stops everything
# with status 0, the logs kept where it said.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=90
load test_helper
bats_require_minimum_version 1.5.0

setup() {
	command -v lighttpd >/dev/null || skip "lighttpd is not installed"
	DEMO_PID=
}

# A test that failed half-way: Ctrl-C, as a user would, then kill.
teardown() {
	local tries=100
	[ -n "$DEMO_PID" ] || return 0
	touch "$BATS_TEST_TMPDIR/stop"
	while kill -0 "$DEMO_PID" 2>/dev/null && (( tries-- > 0 )); do
		sleep 0.1
	done
	kill_pids "$DEMO_PID"
}

# filled NAME VALUE: the form's field NAME has VALUE.
filled() {
	grep -qF "name=\"$1\"" "$BATS_TEST_TMPDIR/form.html" ||
		die "no field $1"
	grep -qE "name=\"$1\"[^>]* value=\"$2\"" \
		"$BATS_TEST_TMPDIR/form.html" || die "$1 not filled in with $2"
}

@test "make demo: the form filled in; Ctrl-C: status 0, the logs kept" {
	local out=$BATS_TEST_TMPDIR/demo.out stop=$BATS_TEST_TMPDIR/stop
	local web shellp socksp url i st=0 logs
	web=$(free_port)
	shellp=$(free_port)
	socksp=$(free_port)
	TMPDIR=$BATS_TEST_TMPDIR WEB_PORT=$web SHELL_PORT=$shellp \
		SOCKS_PORT=$socksp LINE_PAUSE=0 \
		"$PYTHON" "$BATS_TEST_DIRNAME/pty_run.py" "$out" "$stop" \
		make -C "$TOP" --no-print-directory demo 3>&- &
	DEMO_PID=$!
	wait_for_log "$out" 'Ctrl-C stops everything' 60
	cat "$out"
	url=$(grep -o "http://127\.0\.0\.1:$web/hw4\.cgi?form&[^ ]*" "$out" |
		tr -d '\r')
	[ -n "$url" ] || die "no form URL with values"
	curl -sS --fail --max-time 20 -o "$BATS_TEST_TMPDIR/form.html" "$url"
	for i in 1 2 3 4 5; do
		filled "h$i" "127.0.0.$((i + 1))"
		filled "p$i" "$shellp"
		filled "f$i" "t$i.txt"
	done
	for i in 1 2 3; do
		filled "sh$i" 127.0.0.1
		filled "sp$i" "$socksp"
	done
	# Ctrl-C
	touch "$stop"
	wait "$DEMO_PID" || st=$?
	DEMO_PID=
	cat "$out"
	[ "$st" = 0 ] || die "make demo ended with $st"
	run ! grep -q 'make: \*\*\*' "$out"
	logs=$(sed -n 's|.*demo: stopped; the logs are in \([^ ]*\) .*|\1|p' \
		"$out")
	[ -n "$logs" ] || die "no log directory named"
	[ -s "$logs/lighttpd.log" ] || die "no lighttpd.log in $logs"
	[ -e "$logs/socks4d.log" ] || die "no socks4d.log in $logs"
	# and nothing of it is left running
	run ! curl -sS --max-time 5 "http://127.0.0.1:$web/hw4.cgi"
	run ! curl -sS --max-time 5 "http://127.0.0.1:$socksp/"
}
