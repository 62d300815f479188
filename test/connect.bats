#!/usr/bin/env bats
# CONNECT through socks4d to real peers on loopback: curl over SOCKS4 and
# SOCKS4a, 100 MiB each way, half-close both ways, pipelined data, and the
# record and end line in the log.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper

setup_file() {
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www"
	printf '<html><body>socks4d test page</body></html>\n' \
		> "$d/www/index.html"
	head -c 1048576 /dev/urandom > "$d/www/bin.dat"
	head -c 100M /dev/urandom > "$d/down.dat"	# destination -> client
	head -c 100M /dev/urandom > "$d/up.dat"		# client -> destination
	head -c 65536 /dev/urandom > "$d/small.dat"
	printf 'permit c 127.0.0.0/8\n' > "$d/socks.conf"

	start_http 127.0.0.1 "$d/www"
	export HTTP1_PORT=$HTTP_PORT HTTP1_PID=$HTTP_PID
	start_http 127.0.0.2 "$d/www"
	export HTTP_PORT HTTP_PID
	start_peer ECHO echo 127.0.0.2
	start_peer AFTER after-eof 127.0.0.2
	start_peer XFER xfer 127.0.0.2 --send "$d/down.dat" --out "$d/xfer.out"
	start_peer XFER2 xfer 127.0.0.2 --send "$d/small.dat" \
		--out "$d/xfer2.out"
	start_socks4d "$d/socks.conf"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	stop_http
	kill_pids "$HTTP1_PID" "$ECHO_PID" "$AFTER_PID" "$XFER_PID" "$XFER2_PID"
}

@test "curl --socks4 fetches files byte for byte" {
	local f
	for f in index.html bin.dat; do
		run -0 curl -sS --fail --max-time 20 \
			--socks4 "127.0.0.1:$SOCKS_PORT" \
			-o "$BATS_TEST_TMPDIR/$f" \
			"http://127.0.0.2:$HTTP_PORT/$f"
		cmp "$BATS_FILE_TMPDIR/www/$f" "$BATS_TEST_TMPDIR/$f"
	done
}

@test "curl --socks4a: socks4d resolves the name, body byte for byte" {
	local cport
	cport=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$cport" \
		--socks4a "127.0.0.1:$SOCKS_PORT" \
		-o "$BATS_TEST_TMPDIR/bin.dat" \
		"http://localhost:$HTTP1_PORT/bin.dat"
	cmp "$BATS_FILE_TMPDIR/www/bin.dat" "$BATS_TEST_TMPDIR/bin.dat"
	run -0 record_of "$cport"
	[[ "$output" == *$'<D_IP> :127.0.0.1\n'* ]]
	[[ "$output" == *$'<D_NAME> :localhost\n'* ]]
	[[ "$output" == *$'<Reply> :Accept\n'* ]]

	# curl sends even a numeric host as a SOCKS4a name
	run -0 curl -sS --fail --max-time 20 --socks4a "127.0.0.1:$SOCKS_PORT" \
		-o "$BATS_TEST_TMPDIR/index.html" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	cmp "$BATS_FILE_TMPDIR/www/index.html" "$BATS_TEST_TMPDIR/index.html"
}

@test "100 MiB each way at once, equal sha256, exact byte counts" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR pid
	local up down
	up=$(sha256sum < "$d/up.dat" | cut -d' ' -f1)
	down=$(sha256sum < "$d/down.dat" | cut -d' ' -f1)
	: > "$d/xfer.out"
	$CLIENT --port-file "$t/cport" "$SOCKS_PORT" 127.0.0.2 "$XFER_PORT" \
		< "$d/up.dat" | sha256sum > "$t/got"
	[ "$(cut -d' ' -f1 "$t/got")" = "$down" ]
	wait_for_log "$d/xfer.out" .
	[ "$(cat "$d/xfer.out")" = "$up 104857600" ]
	pid=$(conn_pid "$(cat "$t/cport")")
	run -0 end_line "$pid"
	local re="^socks4d\[$pid\]: end: 104857600 bytes to client,"
	re+=" 104857600 from client, [0-9.]+ s, both sides closed$"
	[[ "$output" =~ $re ]]
	[ "$(exit_code "$pid")" = 0 ]
}

@test "half-close: the client shuts down writing, still gets the whole reply" {
	local t=$BATS_TEST_TMPDIR pid
	head -c 1048576 /dev/urandom > "$t/in"
	# The peer answers only after it has seen EOF, with everything it got.
	$CLIENT --port-file "$t/cport" "$SOCKS_PORT" 127.0.0.2 "$AFTER_PORT" \
		< "$t/in" > "$t/out"
	cmp "$t/in" "$t/out"
	pid=$(conn_pid "$(cat "$t/cport")")
	run -0 end_line "$pid"
	local counts=": end: 1048576 bytes to client, 1048576 from client, "
	[[ "$output" == *"$counts"*" s, both sides closed" ]]
}

# the client's later bytes still arrive
@test "half-close: the destination ends first" {
	local d=$BATS_FILE_TMPDIR t=$BATS_TEST_TMPDIR pid
	head -c 1048576 /dev/urandom > "$t/in"
	: > "$d/xfer2.out"
	mkfifo "$t/fifo"
	# The peer sends 64 KiB and shuts down writing at once; the client sees
	# that EOF while its own side is still open, and only then sends.
	$CLIENT --eof-file "$t/eof" "$SOCKS_PORT" 127.0.0.2 "$XFER2_PORT" \
		< "$t/fifo" > "$t/out" 3>&- &
	pid=$!
	exec 4> "$t/fifo"
	wait_for_log "$t/eof" eof 10 || { exec 4>&-; false; }
	cmp "$d/small.dat" "$t/out"
	cat "$t/in" >&4
	exec 4>&-
	wait "$pid"
	wait_for_log "$d/xfer2.out" .
	[ "$(cat "$d/xfer2.out")" \
		= "$(sha256sum < "$t/in" | cut -d' ' -f1) 1048576" ]
}

@test "pipelined data right behind the request is not lost" {
	local t=$BATS_TEST_TMPDIR cport
	# in the very write that carries the request
	printf 'early bytes, sent before the reply\n' > "$t/in"
	run -0 $CLIENT --early "$SOCKS_PORT" 127.0.0.2 "$ECHO_PORT" < "$t/in"
	[ "$output" = "early bytes, sent before the reply" ]

	# more than socks4d reads with the request: 3000 bytes in the same write
	head -c 3000 /dev/urandom > "$t/in3000"
	$CLIENT --early "$SOCKS_PORT" 127.0.0.2 "$ECHO_PORT" < "$t/in3000" \
		> "$t/out3000"
	cmp "$t/in3000" "$t/out3000"

	# raw bytes: request and HTTP request in one segment, then half-close
	cport=$(client_port)
	local get='GET /index.html HTTP/1.0\r\n\r\n'
	printf "$(req 1 "$HTTP_PORT" 127.0.0.2 u)$get" > "$t/req"
	timeout 20 socat -t 3 \
		- "TCP:127.0.0.1:$SOCKS_PORT,sourceport=$cport,reuseaddr" \
		< "$t/req" > "$t/resp"
	[ "$(head -c 8 "$t/resp" | hex)" = "005a$(hex4 "$HTTP_PORT")7f000002" ]
	tail -c +9 "$t/resp" | head -1 | grep -q '^HTTP/1.0 200 '
	tail -c "$(stat -c %s "$BATS_FILE_TMPDIR/www/index.html")" "$t/resp" |
		cmp - "$BATS_FILE_TMPDIR/www/index.html"
	run -0 record_of "$cport"
	[[ "$output" == *$'\n<Content> :GET /index.html HTTP/1.0\\r\\n\\r\\n' ]]
}

@test "the record has the classic fields, the end line the right counts" {
	local t=$BATS_TEST_TMPDIR cport pid
	printf 'GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n' > "$t/in"
	$CLIENT -u alice --port-file "$t/cport" "$SOCKS_PORT" 127.0.0.2 \
		"$HTTP_PORT" \
		< "$t/in" > "$t/out"
	head -1 "$t/out" | grep -q '^HTTP/1.0 200 '
	tail -c "$(stat -c %s "$BATS_FILE_TMPDIR/www/index.html")" "$t/out" |
		cmp - "$BATS_FILE_TMPDIR/www/index.html"
	cport=$(cat "$t/cport")
	run -0 record_of "$cport"
	[ "$output" = "<S_IP> :127.0.0.1
<S_PORT> :$cport
<D_IP> :127.0.0.2
<D_PORT> :$HTTP_PORT
<Command> :CONNECT
<Reply> :Accept
<Content> :GET /index.html HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n" ]
	pid=$(conn_pid "$cport")
	run -0 end_line "$pid"
	local re="^socks4d\[$pid\]: end: $(stat -c %s "$t/out") bytes"
	re+=" to client, 37 from client, [0-9]+\.[0-9]+ s, both sides closed$"
	[[ "$output" =~ $re ]]
	[ "$(exit_code "$pid")" = 0 ]
}

@test "<Content> is escaped and bounded" {
	local t=$BATS_TEST_TMPDIR want
	{ printf '\000\001\377"\\\t'; head -c 100 /dev/zero |
		tr '\0' A; } > "$t/in"
	$CLIENT --port-file "$t/cport" "$SOCKS_PORT" 127.0.0.2 "$ECHO_PORT" \
		< "$t/in" > "$t/out"
	cmp "$t/in" "$t/out"
	run -0 record_of "$(cat "$t/cport")"
	want='<Content> :\x00\x01\xff\x22\\\t'$(printf 'A%.0s' $(seq 42))
	[[ "$output" == *$'\n'"$want" ]]
}

@test "refused destination: 91, a Reject record, exit 1, nothing relayed" {
	local cport port pid
	port=$(free_port)	# nothing listens there
	cport=$(client_port)
	run -0 raw "$cport" "$SOCKS_PORT" \
		"$(req 1 "$port" 127.0.0.2 u)GET / HTTP/1.0\r\n\r\n"
	[ "$output" = "005b$(hex4 "$port")7f000002" ]
	run -0 record_of "$cport"
	[[ "$output" == *$'<Reply> :Reject\n'* ]]
	local refused="<Reason> :connect to 127.0.0.2 port $port:"
	[[ "$output" == *"$refused Connection refused"* ]]
	pid=$(conn_pid "$cport")
	[ "$(exit_code "$pid")" = 1 ]
	! grep -q "^socks4d\[$pid\]: end:" "$SOCKS_LOG" ||
		die "matched, and should not have"
}

@test "no sanitizer reports in the log" {
	no_sanitizer_reports "$SOCKS_LOG"
}
