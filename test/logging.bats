#!/usr/bin/env bats
# Where the messages go: stderr when it is not the client; syslog when it is
# (classic inetd hands over the socket as fds 0, 1 and 2) or when there is no
# stderr.  This machine has no /dev/log, so the syslog cases run their
# super-server in a private mount namespace (unshare -m) where /dev is a
# test directory holding a stand-in syslog socket; the real /dev is never
# touched.  Also: the socket as fd 3 (LISTEN_FDS), and usage from a terminal.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=30
load test_helper

# in_devlog_ns DIR CMD...: become CMD, run where /dev is DIR (with DIR/log,
# the listener's socket), plus the real null, zero, random and urandom.
in_devlog_ns() {
	exec unshare -m sh -ec '
		dev=$1; shift
		mount --make-rprivate /
		mkdir -p "$dev.real"
		mount --rbind /dev "$dev.real"
		mount --bind "$dev" /dev
		for n in null zero random urandom; do
			mount --bind "$dev.real/$n" "/dev/$n"
		done
		exec "$@"' sh "$@"
}

# start_inetd_style NAME REDIRECT: socks4d under systemd-socket-activate in the
# namespace, through `sh -c 'exec socks4d ... REDIRECT'`; exports NAME_PORT,
# NAME_PID, and NAME_LOG (systemd-socket-activate's own messages).
start_inetd_style() {
	local name=$1 redirect=$2 port log=$BATS_FILE_TMPDIR/$1.log
	port=$(free_port)
	( in_devlog_ns "$BATS_FILE_TMPDIR/dev" \
		systemd-socket-activate -a --inetd -l "127.0.0.1:$port" \
		sh -c "exec \"\$0\" \"\$@\" $redirect" "$SOCKS4D" \
		-c "$BATS_FILE_TMPDIR/socks.conf" \
		</dev/null >/dev/null 2>>"$log" 3>&- ) &
	declare -gx "${name}_PID=$!" "${name}_PORT=$port" "${name}_LOG=$log"
	wait_for_port 127.0.0.1 "$port"
}

setup_file() {
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www" "$d/dev"
	head -c 300000 /dev/urandom > "$d/www/bin.dat"
	printf 'permit c 127.0.0.0/8\n' > "$d/socks.conf"
	for n in null zero random urandom; do : > "$d/dev/$n"; done
	ln -s /proc/self/fd "$d/dev/fd"
	export SYSLOG=$d/syslog.txt
	start_syslog "$d" "$d/dev/log"
	export SYSLOG_PID
	start_http 127.0.0.2 "$d/www"
	export HTTP_PORT HTTP_PID
	start_peer ECHO echo 127.0.0.2
	start_socks4d "$d/socks.conf"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
	# classic inetd: stderr is the client socket
	start_inetd_style INETD '2>&1'
	# no stderr at all
	start_inetd_style NOERR '2>&-'
	# systemd without StandardInput=socket: the connection is fd 3
	FD3_PORT=$(free_port)
	systemd-socket-activate -a -l "127.0.0.1:$FD3_PORT" "$SOCKS4D" \
		-c "$d/socks.conf" \
		</dev/null >/dev/null 2>>"$d/fd3.log" 3>&- &
	export FD3_PID=$! FD3_PORT FD3_LOG=$d/fd3.log
	wait_for_port 127.0.0.1 "$FD3_PORT"
}

teardown_file() {
	stop_socks4d
	stop_http
	kill_pids "$INETD_PID" "$NOERR_PID" "$FD3_PID" "$ECHO_PID" "$SYSLOG_PID"
}

# syslog_line PID TEXT: the syslog line of socks4d[PID] that starts with
# TEXT, without the "<PRI>date host" part; waits for it.
syslog_line() {
	wait_for_log "$SYSLOG" "socks4d\[$1\]: $2" || return 1
	grep -F "socks4d[$1]: $2" "$SYSLOG" | tail -1
}

@test "stderr mode: the classic record and the end line go to stderr" {
	local t=$BATS_TEST_TMPDIR c pid
	printf 'hello stderr\n' > "$t/in"
	$CLIENT -u dave --port-file "$t/cport" "$SOCKS_PORT" 127.0.0.2 \
		"$ECHO_PORT" < "$t/in" > "$t/out"
	cmp "$t/in" "$t/out"
	c=$(cat "$t/cport")
	run -0 record_of "$c"
	[ "$output" = "<S_IP> :127.0.0.1
<S_PORT> :$c
<D_IP> :127.0.0.2
<D_PORT> :$ECHO_PORT
<Command> :CONNECT
<Reply> :Accept
<Content> :hello stderr\\n" ]
	pid=$(conn_pid "$c")
	run -0 end_line "$pid"
	local re="^socks4d\[$pid\]: end: 13 bytes to client, 13 from client,"
	re+=" [0-9]+\.[0-9]{3} s, both sides closed$"
	[[ "$output" =~ $re ]]
	# and none of it in syslog
	! grep -q "socks4d\[$pid\]" "$SYSLOG" ||
		die "matched, and should not have"
}

# the client gets exactly the reply and its data
@test "syslog mode (stderr is the socket)" {
	local c pid line
	c=$(client_port)
	run -0 raw "$c" "$INETD_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 carol)hello syslog\n"
	[ "$output" \
		= "005a$(hex4 "$ECHO_PORT")7f000002$(hex 'hello syslog\n')" ]
	pid=$(conn_pid "$c" "$INETD_LOG")
	[ "$(exit_code "$pid" "$INETD_LOG")" = 0 ]
	# the record, as one line, at LOG_DAEMON|LOG_INFO
	run -0 syslog_line "$pid" CONNECT
	local want re
	want=" socks4d[$pid]: CONNECT 127.0.0.1:$c -> 127.0.0.2:$ECHO_PORT"
	want+=" user \"carol\": Accept, content \"hello syslog\\n\""
	[[ "$output" == "<30>"*"$want" ]]
	run -0 syslog_line "$pid" "end: "
	re=" socks4d\[$pid\]: end: 13 bytes to client, 13 from client,"
	re+=" [0-9.]+ s, both sides closed$"
	[[ "$output" =~ $re ]]
}

# the reason goes to syslog
@test "syslog mode: a rejected request gets exactly 8 bytes" {
	local c pid
	c=$(client_port)
	run -0 raw "$c" "$INETD_PORT" \
		"$(req 1 80 10.9.9.9 eve)GET / HTTP/1.0\r\n\r\n"
	[ "$output" = "005b00500a090909" ]
	pid=$(conn_pid "$c" "$INETD_LOG")
	[ "$(exit_code "$pid" "$INETD_LOG")" = 1 ]
	run -0 syslog_line "$pid" CONNECT
	local want=" socks4d[$pid]: CONNECT 127.0.0.1:$c -> 10.9.9.9:80"
	want+=" user \"eve\": Reject"
	want+=" (no rule in $BATS_FILE_TMPDIR/socks.conf matches), content \"\""
	[[ "$output" == "<29>"*"$want" ]]
}

@test "syslog mode: a client that is not SOCKS gets no byte at all" {
	local c pid
	c=$(client_port)
	run -0 raw "$c" "$INETD_PORT" '\x06\x01\x00'
	[ -z "$output" ]
	pid=$(conn_pid "$c" "$INETD_LOG")
	[ "$(exit_code "$pid" "$INETD_LOG")" = 1 ]
	run -0 syslog_line "$pid" \
		"request 127.0.0.1:$c: Reject (version is not 4)"
	local want="socks4d[$pid]: request 127.0.0.1:$c: Reject"
	[[ "$output" == *"$want (version is not 4), content \"\"" ]]
}

@test "syslog mode: curl through it, body byte for byte, nothing appended" {
	local t=$BATS_TEST_TMPDIR get='GET /bin.dat HTTP/1.0\r\n\r\n'
	run -0 curl -sS --fail --max-time 20 --socks4 "127.0.0.1:$INETD_PORT" \
		-o "$t/bin.dat" "http://127.0.0.2:$HTTP_PORT/bin.dat"
	cmp "$BATS_FILE_TMPDIR/www/bin.dat" "$t/bin.dat"
	# HTTP/1.0 without keep-alive: the body ends at close, so a log line
	# written to the socket would show up in the response
	printf "$(req 1 "$HTTP_PORT" 127.0.0.2 u)$get" > "$t/req"
	timeout 20 socat -t 5 - "TCP:127.0.0.1:$INETD_PORT" < "$t/req" \
		> "$t/resp"
	[ "$(head -c 8 "$t/resp" | hex)" = "005a$(hex4 "$HTTP_PORT")7f000002" ]
	tail -c 300000 "$t/resp" | cmp - "$BATS_FILE_TMPDIR/www/bin.dat"
	# between the two: the response head, ending where the body starts
	head -c -300000 "$t/resp" | tail -c +9 > "$t/head"
	head -1 "$t/head" | grep -q '^HTTP/1.0 200 '
	[ "$(tail -c 4 "$t/head" | hex)" = 0d0a0d0a ]
}

@test "no stderr at all (fd 2 closed): the record goes to syslog" {
	local c pid
	c=$(client_port)
	run -0 raw "$c" "$NOERR_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 frank)no stderr\n"
	[ "$output" = "005a$(hex4 "$ECHO_PORT")7f000002$(hex 'no stderr\n')" ]
	pid=$(conn_pid "$c" "$NOERR_LOG")
	run -0 syslog_line "$pid" CONNECT
	local want=" socks4d[$pid]: CONNECT 127.0.0.1:$c ->"
	want+=" 127.0.0.2:$ECHO_PORT user \"frank\":"
	want+=" Accept, content \"no stderr\\n\""
	[[ "$output" == *"$want" ]]
}

# the record goes to stderr
@test "fd 3 (LISTEN_FDS, no --inetd): curl is served" {
	local t=$BATS_TEST_TMPDIR c
	c=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$c" \
		--socks4 "127.0.0.1:$FD3_PORT" \
		-o "$t/bin.dat" "http://127.0.0.2:$HTTP_PORT/bin.dat"
	cmp "$BATS_FILE_TMPDIR/www/bin.dat" "$t/bin.dat"
	run -0 record_of "$c" "$FD3_LOG"
	local want=$'<D_IP> :127.0.0.2\n<D_PORT> :'"$HTTP_PORT"
	want+=$'\n<Command> :CONNECT\n<Reply> :Accept\n'
	want+=$'<Content> :GET /bin.dat HTTP/1.1\\r\\nHost: 127.0.0.2:'
	[[ "$output" == *"$want"* ]]
	[ "$(exit_code "$(conn_pid "$c" "$FD3_LOG")" "$FD3_LOG")" = 0 ]
}

@test "stdin not a socket: usage on stderr, nothing on stdout, exit 2" {
	local conf=$BATS_FILE_TMPDIR/socks.conf out
	run -2 "$SOCKS4D" -c "$conf" < /dev/null
	[[ "${lines[0]}" == "usage: socks4d "* ]]
	[[ "$output" == *"systemd-socket-activate"* ]]
	run -2 "$SOCKS4D" -c "$conf" < "$conf"
	[[ "${lines[0]}" == "usage: socks4d "* ]]
	run -2 bash -c "echo x | '$SOCKS4D' -c '$conf'"
	[[ "${lines[0]}" == "usage: socks4d "* ]]
	out=$("$SOCKS4D" -c "$conf" < /dev/null 2>/dev/null) || [ $? = 2 ]
	[ -z "$out" ]
	# and bad options, from anywhere: one line (help.bats has them all)
	run -2 "$SOCKS4D" -x
	run -2 "$SOCKS4D" -T 0 -c "$conf"
	[ "$output" = "socks4d: -T: '0' is out of range 1..86400; see\
 socks4d -h" ]
	run -2 "$SOCKS4D" -T soon -c "$conf"
	[ "$output" = "socks4d: -T: 'soon' is not a number in 1..86400; see\
 socks4d -h" ]
}

@test "no sanitizer reports in any log" {
	no_sanitizer_reports "$SOCKS_LOG"
	no_sanitizer_reports "$INETD_LOG"
	no_sanitizer_reports "$NOERR_LOG"
	no_sanitizer_reports "$FD3_LOG"
	no_sanitizer_reports "$SYSLOG"
}
