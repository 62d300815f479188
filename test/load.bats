#!/usr/bin/env bats
# Load through the super-server: 500 concurrent CONNECT sessions moving
# 1 MiB each way (sha256 checked), and 1000 idle sessions held open at once
# and then released. Every session must succeed, every socks4d must exit
# 0, and none may be left behind. load_client.py holds all sessions at a
# barrier once granted, so they are truly concurrent, and counts this
# file's socks4d processes there.
#
# systemd-socket-activate has no limit of its own on concurrent children;
# its listen backlog is SOMAXCONN (4096 here), checked below. (tcpserver
# would need -c 1000 -b 1024.)
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=170
load test_helper

setup_file() {
	(( $(ulimit -n) >= 8192 )) || ulimit -n 8192
	printf 'permit c 127.0.0.0/8\n' > "$BATS_FILE_TMPDIR/socks.conf"
	start_peer ECHO echo 127.0.0.2
	start_socks4d "$BATS_FILE_TMPDIR/socks.conf"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID"
}

teardown() {
	no_sanitizer_reports "$SOCKS_LOG"
	no_crash "$SOCKS_LOG"
}

# oddities: the log lines that are not the usual ones of a good session.
oddities() {
	local usual='^(Communication attempt|Connection from|Spawned|Execing'
	usual+='|Child [0-9]+ died with code 0$|<|socks4d\[[0-9]+\]: end: )'
	grep -vE "$usual" "$SOCKS_LOG" | tail -20
}

# count_since MARK PATTERN: lines matching PATTERN in the log after byte MARK
# (a log_size).
count_since() { log_since "$SOCKS_LOG" "$1" | grep -cE -- "$2" || true; }

# records_intact: "RECORDS BROKEN" for the log on stdin, where a record is
# broken if any other line falls between its <S_IP> and its <Content>.
records_intact() {
	awk 'BEGIN { n = split("S_IP S_PORT D_IP D_PORT Command Reply Content",
			       t, " ")
		     for (k = 1; k < n; k++) after[t[k]] = t[k + 1] }
	     { tag = $0 ~ /^<[A-Za-z_]+> :/ ? \
		     substr($0, 2, index($0, ">") - 2) : ""
	       if (expect != "" && tag != expect) broken++
	       expect = tag in after ? after[tag] : ""
	       if (tag == "S_IP") records++ }
	     END { print records + 0, broken + 0 }'
}

# wait_count MARK PATTERN N SECS: until N such lines have been logged.
wait_count() {
	local tries=$(( $4 * 10 ))
	while [ "$(count_since "$1" "$2")" -lt "$3" ] &&
		(( tries-- > 0 )); do sleep 0.1; done
	[ "$(count_since "$1" "$2")" = "$3" ] ||
		die "$(count_since "$1" "$2") lines match '$2', expected $3"
}

@test "the super-server queues 1000 connections: listen backlog >= 1024" {
	run -0 ss -Hltn "sport = :$SOCKS_PORT"
	local backlog
	backlog=$(awk '{ print $3 }' <<< "$output")
	(( backlog >= 1024 )) || die "backlog $backlog: $output"
}

# (sha256)
@test "500 concurrent CONNECT sessions, 1 MiB each way, every byte checked" {
	local mark live=$BATS_TEST_TMPDIR/live
	ulimit -n 8192 2>/dev/null || true
	mark=$(log_size "$SOCKS_LOG")
	run "$PYTHON" "$BATS_TEST_DIRNAME/load_client.py" "$SOCKS_PORT" \
		127.0.0.2 "$ECHO_PORT" \
		--sessions 500 --bytes 1048576 --timeout 150 \
		--at-barrier "pgrep -P $SOCKS_PID | wc -l > $live"
	echo "$output"
	[ "$status" = 0 ] || die "$(oddities)"
	[[ "$output" == *"sessions=500 granted=500 ok=500 failed=0 "* ]]
	# all 500 were alive at once
	[ "$(cat "$live")" = 500 ]
	wait_count "$mark" '^Child [0-9]+ died with code 0$' 500 30
	[ "$(count_since "$mark" '^Child [0-9]+ died with code')" = 500 ]
	local ended='^socks4d\[[0-9]+\]: end: 1048576 bytes to client,'
	ended+=' 1048576 from client, .*, both sides closed$'
	[ "$(count_since "$mark" "$ended")" = 500 ]
	# 500 writers on one log: every record's seven lines stay together, in
	# order
	[ "$(log_since "$SOCKS_LOG" "$mark" | records_intact)" = "500 0" ]
	no_children 10
}

# no process left
@test "1000 idle sessions held open at once, then released: no failure" {
	local mark live=$BATS_TEST_TMPDIR/live
	ulimit -n 8192 2>/dev/null || true
	mark=$(log_size "$SOCKS_LOG")
	run "$PYTHON" "$BATS_TEST_DIRNAME/load_client.py" "$SOCKS_PORT" \
		127.0.0.2 "$ECHO_PORT" \
		--sessions 1000 --idle 2 --timeout 150 \
		--at-barrier "pgrep -P $SOCKS_PID | wc -l > $live"
	echo "$output"
	[ "$status" = 0 ] || die "$(oddities)"
	[[ "$output" == *"sessions=1000 granted=1000 ok=1000 failed=0 "* ]]
	[ "$(cat "$live")" = 1000 ]
	no_children 30
	wait_count "$mark" '^Child [0-9]+ died with code 0$' 1000 10
	[ "$(count_since "$mark" '^Child [0-9]+ died with code')" = 1000 ]
	local ended='^socks4d\[[0-9]+\]: end: 0 bytes to client,'
	ended+=' 0 from client, .*, both sides closed$'
	[ "$(count_since "$mark" "$ended")" = 1000 ]
}
