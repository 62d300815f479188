#!/usr/bin/env bats
# A hostile network (issue 22): a client that no rule could permit gets
# nothing (no grant, no name lookup); rules reach running sessions; a
# stopped session keeps its record; -x keeps relayed bytes out of records;
# a failed login is told apart by its exit status; -I ends idle relays.
# socks4d runs under systemd-socket-activate, as the Accept=yes units run it.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=120
load test_helper

# The files live where the sessions, no longer root, may look them up again
# (bats' own directories are root's): a replacement is seen too.
setup_file() {
	export FILES
	FILES=$(mktemp -d /tmp/socks4d-trust.XXXXXX)
	chmod 755 "$FILES"
	export CONF=$FILES/socks.conf USERS=$FILES/socks.passwd
	users_file "$USERS" alice wonderland
	chmod 644 "$USERS"
	rules 'permit c 127.0.0.0/8'
	start_peer ECHO echo 127.0.0.2
	start_socks4d "$CONF" -u "$USERS" -T 5 -C 3
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID"
	rm -rf "$FILES"
}

teardown() {
	kill_pids "${HOLD_PID:-}"
}

# rules LINE...: socks.conf, one argument a line, edited in place.
rules() { printf '%s\n' "$@" >"$CONF"; }

# replace LINE...: socks.conf replaced by a rename, as editors write it.
replace() {
	printf '%s\n' "$@" >"$FILES/new"
	chmod 644 "$FILES/new"
	mv "$FILES/new" "$CONF"
}

# hold: a CONNECT to the echo peer that echoes "hi" (so it is granted and
# its record is out), then is held open until the proxy ends it; $PF has
# the client's port, $EF appears at its end.
hold() {
	PF=$BATS_TEST_TMPDIR/port EF=$BATS_TEST_TMPDIR/eof
	rm -f "$PF" "$EF"
	{ printf hi; sleep 60; } |
		"$PYTHON" "$BATS_TEST_DIRNAME/socks4_client.py" \
		--port-file "$PF" --eof-file "$EF" \
		"$SOCKS_PORT" 127.0.0.2 "$ECHO_PORT" >/dev/null 2>&1 3>&- &
	HOLD_PID=$!
	wait_cmd 10 "the held session did not start" test -s "$PF"
	CPORT=$(cat "$PF")
	wait_cmd 10 "no record of the held session" \
		grep -q "<S_PORT> :$CPORT$" "$SOCKS_LOG"
}

# ended SECS: the held session has ended within SECS.
ended() { wait_cmd "$1" "the held session went on" test -e "$EF"; }

# send BYTES: printf-escaped BYTES to socks4d in one write; the reply, hex.
send() { raw "$(client_port)" "$SOCKS_PORT" "$1"; }

# udp_login NAME PASSWORD: a SOCKS5 login, then UDP ASSOCIATE; the reply.
udp_login() {
	"$PYTHON" - "$SOCKS_PORT" "$1" "$2" <<-'EOF'
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	name, password = sys.argv[2].encode(), sys.argv[3].encode()
	s.sendall(b"\5\1\2")
	assert s.recv(2) == b"\5\2"
	s.sendall(bytes([1, len(name)]) + name + bytes([len(password)])
	          + password)
	assert s.recv(2) == b"\1\0"
	s.sendall(b"\5\3\0\1\0\0\0\0\0\0")
	print(s.recv(10)[:2].hex())
	EOF
}

@test "judged first: UDP and BIND for a client no rule permits are refused" {
	rules 'permit u * from 10.0.0.0/8' 'permit cbu * user alice'
	# Anonymous UDP ASSOCIATE: 05 02, no relay port.
	run -0 send '\x05\x01\x00\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00'
	[ "$output" = "050005020001000000000000" ]
	# SOCKS4 BIND naming no peer: 91, no listener.
	run -0 send "$(req 2 0 0.0.0.0 '')"
	[ "$output" = "005b000000000000" ]
	wait_cmd 5 "no reason" grep -q \
		'<Reason> :no rule in .* permits BIND for this client' \
		"$SOCKS_LOG"
	grep -q '<Reason> :no rule in .* permits UDP ASSOCIATE for this' \
		"$SOCKS_LOG"
}

@test "judged first: alice, logged in, is granted what the rule gives her" {
	rules 'permit u * from 10.0.0.0/8' 'permit cbu * user alice'
	run -0 udp_login alice wonderland
	[ "$output" = 0500 ]
}

@test "judged first: no lookup for a stranger; the same reply for any name" {
	rules 'permit c * from 10.0.0.0/8'
	run -0 send "$(req 1 80 0.0.0.1 '' localhost)"
	[ "$output" = "005b005000000001" ]
	run -0 send "$(req 1 80 0.0.0.1 '' no-such.invalid)"
	[ "$output" = "005b005000000001" ]
	run -0 wait_recs "$SOCKS_LOG" 0 \
		'Reason> :no rule in .* permits CONNECT for this client' 2
	! grep -q 'cannot resolve no-such.invalid' "$SOCKS_LOG"
}

@test "rules reach running sessions: a deny edited in place ends it" {
	rules 'permit c 127.0.0.0/8'
	hold
	pid=$(conn_pid "$CPORT")
	rules 'deny c 127.0.0.2' 'permit c 127.0.0.0/8'
	ended 6
	run -0 end_line "$pid"
	[[ "$output" == *", revoked: "*"socks.conf:1 denies" ]]
}

@test "rules reach running sessions: replaced by a rename, and unchanged" {
	rules 'permit c 127.0.0.0/8'
	hold
	pid=$(conn_pid "$CPORT")
	# A new file that still permits it: the session goes on past a tick.
	replace 'permit c 127.0.0.2'
	sleep 3
	[ ! -e "$EF" ]
	replace 'deny c *'
	ended 6
	run -0 end_line "$pid"
	[[ "$output" == *", revoked: "*"socks.conf:1 denies" ]]
}

# hold_alice: a SOCKS5 session logged in as alice, relaying, held open
# until the proxy ends it ("eof" in $BATS_TEST_TMPDIR/out); pid: its
# socks4d.
hold_alice() {
	"$PYTHON" - "$SOCKS_PORT" "$ECHO_PORT" >"$BATS_TEST_TMPDIR/out" \
		2>&1 3>&- <<-'EOF' &
	import socket, struct, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.sendall(b"\5\1\2"); assert s.recv(2) == b"\5\2"
	s.sendall(b"\1\5alice\12wonderland"); assert s.recv(2) == b"\1\0"
	s.sendall(b"\5\1\0\1\177\0\0\2" + struct.pack(">H", int(sys.argv[2])))
	assert s.recv(10)[1] == 0
	print("port", s.getsockname()[1], flush=True)
	s.settimeout(30)
	print("eof" if s.recv(1) == b"" else "data", flush=True)
	EOF
	HOLD_PID=$!
	wait_cmd 10 "no login" grep -q '^port' "$BATS_TEST_TMPDIR/out"
	cport=$(awk '/^port/ { print $2 }' "$BATS_TEST_TMPDIR/out")
	pid=$(conn_pid "$cport")
}

@test "rules reach running sessions: a user removed from the users file" {
	rules 'permit c 127.0.0.0/8'
	cp "$USERS" "$BATS_TEST_TMPDIR/saved"
	hold_alice
	sed -i '/^alice:/d' "$USERS"
	wait_cmd 6 "the session went on" grep -q '^eof' "$BATS_TEST_TMPDIR/out"
	cp "$BATS_TEST_TMPDIR/saved" "$USERS"
	chmod 644 "$USERS"
	run -0 end_line "$pid"
	[[ "$output" == *", revoked: user alice is no longer in "* ]]
}

# as it fails every login: the session says why, with file:line
@test "rules reach running sessions: a users file naming someone twice" {
	rules 'permit c 127.0.0.0/8'
	cp "$USERS" "$BATS_TEST_TMPDIR/saved"
	hold_alice
	printf 'bob:%s\n' "$(openssl passwd -6 x)" "$(openssl passwd -6 y)" \
		>>"$USERS"
	wait_cmd 6 "the session went on" grep -q '^eof' "$BATS_TEST_TMPDIR/out"
	cp "$BATS_TEST_TMPDIR/saved" "$USERS"
	chmod 644 "$USERS"
	run -0 end_line "$pid"
	[[ "$output" == *", revoked: $USERS:3: name listed again (first on\
 line 2)" ]] || die "$output"
}

@test "a relaying session stopped by SIGTERM writes its record and end" {
	rules 'permit c 127.0.0.0/8'
	hold
	pid=$(conn_pid "$CPORT")
	kill -TERM "$pid"
	ended 5
	run -0 end_line "$pid"
	[[ "$output" == *", stopped by a signal" ]]
	run -0 exit_code "$pid"
	[ "$output" = 1 ]
}

@test "-x: relayed bytes stay out of the record" {
	rules 'permit c 127.0.0.0/8'
	start_socks4d_as QUIET "$CONF" -x
	run -0 "$PYTHON" "$BATS_TEST_DIRNAME/socks4_client.py" \
		--port-file "$BATS_TEST_TMPDIR/p" "$QUIET_PORT" 127.0.0.2 \
		"$ECHO_PORT" <<<"alice:secret"
	[ "$output" = "alice:secret" ]
	run -0 record_of "$(cat "$BATS_TEST_TMPDIR/p")" "$QUIET_LOG"
	[[ "$output" == *$'\n<Content> :' ]]
	if grep -q 'secret' "$QUIET_LOG"; then die "the log shows it"; fi
	kill_pids "$QUIET_PID"
}

@test "a failed login exits 3; a refused request 1" {
	rules 'permit c 127.0.0.0/8'
	local off
	off=$(log_size "$SOCKS_LOG")
	run -0 send '\x05\x01\x02\x01\x05alice\x03bad'
	[ "$output" = "05020101" ]
	run -0 wait_lines "$SOCKS_LOG" "$off" 'died with code 3' 1
	off=$(log_size "$SOCKS_LOG")
	run -0 send "$(req 1 80 10.0.0.1 '')"
	[ "$output" = "005b00500a000001" ]
	run -0 wait_lines "$SOCKS_LOG" "$off" 'died with code 1' 1
}

@test "-I 1: an idle relay ends within a tick, its end line says why" {
	rules 'permit c 127.0.0.0/8'
	start_socks4d_as IDLE "$CONF" -I 1
	SOCKS_PORT=$IDLE_PORT SOCKS_LOG=$IDLE_LOG hold
	pid=$(conn_pid "$CPORT" "$IDLE_LOG")
	ended 5
	run -0 end_line "$pid" "$IDLE_LOG"
	[[ "$output" == *", idle timeout" ]]
	kill_pids "$IDLE_PID"
}
