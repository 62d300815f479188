#!/usr/bin/env bats
# Malformed and hostile requests, end to end, table-driven (hostile_probe.py
# runs each row as a raw client and checks it). Every row states the exact
# reply bytes (or none), how and when the connection ends, socks4d's exit
# status and the reason it logs. After each test: no socks4d left behind,
# no sanitizer report, no death by signal, and the next client is served.
# Deadlines here: -T 6 (request), -C 3 (connect, name lookup), -B 3 (BIND).
# "At once" means within 5 s of connecting: before the request deadline,
# with room for the sanitizer build's slow start (and exit: LeakSanitizer)
# on a busy 2-core machine; the logged reason tells a rejection from a
# timeout in any case.
#
# Table columns (see hostile_probe.py):
#   label | steps | reply | end | exit | reason | ms
# $EP is the echo server's port (127.0.0.2, 7f000002), $TP the trap's: a
# listener that a rejected request must never reach.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=120
load test_helper

# The reason a client that resets before its request is complete leaves in
# the log: either of two.
EARLY_RST='~client closed before a complete request'
EARLY_RST+='|request read: Connection reset by peer'

setup_file() {
	export TRAPLOG=$BATS_FILE_TMPDIR/trap.log
	: > "$TRAPLOG"
	printf 'permit c 127.0.0.0/8\npermit b 127.0.0.0/8\n' \
		> "$BATS_FILE_TMPDIR/socks.conf"
	start_peer ECHO echo 127.0.0.2
	start_peer TRAP echo 127.0.0.2 --accept-log "$TRAPLOG"
	start_socks4d "$BATS_FILE_TMPDIR/socks.conf" -T 6 -C 3 -B 3
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID" "$TRAP_PID"
}

teardown() {
	kill_pids "${HARNESS_PID:-}"
	invariants_held
}

# (0 and 1)
@test "harness: a child killed by a signal is told apart from socks4d's exits" {
	# systemd-socket-activate logs si_status: the signal number for a
	# signal death (11 SIGSEGV, 6 SIGABRT), which no_crash flags.
	local port log=$BATS_TEST_TMPDIR/ssa.log
	port=$(free_port)
	systemd-socket-activate -a --inetd -l "127.0.0.1:$port" sh \
		-c 'kill -SEGV $$' 2>"$log" 3>&- &
	HARNESS_PID=$!
	wait_for_port 127.0.0.1 "$port"
	wait_for_log "$log" 'died with code'
	grep -q 'died with code 11$' "$log"
	run ! no_crash "$log"
}

@test "wrong VN (TLS, 0, 3, 6, 255): closed at once with no reply" {
	# VN 5 is SOCKS5: hostile5.bats; a capital letter, HTTP:
	# hostile_http.bats
	probe <<-'EOF'
	VN 6 | x:06010050+7f000002+00 shut | - | eof | 1
	    | <Reason> :version is not 4 | 0-5000
	VN 6, no half-close | x:06010050+7f000002+00 | - | eof | 1
	    | <Reason> :version is not 4 | 0-5000
	VN 0 | x:0001+$TP+7f000002+00 shut | - | eof | 1
	    | <Reason> :version is not 4 | 0-5000
	VN 3 | x:0301+$TP+7f000002+00 shut | - | eof | 1
	    | <Reason> :version is not 4 | 0-5000
	VN 255 | x:ff01+$TP+7f000002+00 shut | - | eof | 1
	    | <Reason> :version is not 4 | 0-5000
	TLS ClientHello | x:160301002e0100002a0303+00*32 shut | - | eof | 1
	    | <Reason> :version is not 4 | 0-5000
	VN 6, a lone byte | x:06 | - | eof | 1 | <Reason> :version is not 4
	    | 0-5000
	EOF
}

# all others 91 at once
@test "every CD 0..255: only 1 (CONNECT) and 2 (BIND) get 90" {
	local cd bad="CD %d | x:04%02x+\$TP+7f000002+'u'+00 shut"
	{
		for cd in {0..255}; do
			case $cd in
			1) echo "CD 1 | x:0401+\$EP+7f000002+'u'+00 shut" \
				"| 005a+\$EP+7f000002 | eof | 0" \
				"| both sides closed | 0-5000" ;;
			2) echo "CD 2" \
				"| x:0402+\$TP+7f000002+'u'+00 read:8:5 shut" \
				"| 005a+~[0-9a-f]{4}+7f000001 | eof | 1" \
				"| client left while BIND waited | 0-5000" ;;
			*) printf "$bad\n" "$cd" "$cd"
			   echo "| 005b+~(000000000000|\$TP""7f000002) | eof" \
				"| 1 | command is neither CONNECT nor BIND" \
				"| 0-5000" ;;
			esac
		done
	} | probe --jobs 6
}

# head_bytes K: the first K bytes of a CONNECT header to the trap, in hex.
head_bytes() {
	local h
	h=0401$(hex4 "$TRAP_PORT")7f000002
	printf '%s' "${h:0:$((2 * $1))}"
}

# then half-close or reset
@test "truncated at every byte offset of the header (0..8) and in USERID" {
	local k
	{
		# the header is 04 01 PP PP 7f 00 00 02; k = 0 sends nothing
		for k in 0 1 2 3 4 5 6 7 8; do
			echo "first $k bytes, half-close" \
				"| x:$(head_bytes "$k") shut | - | eof | 1" \
				"| client closed before a complete request" \
				"| 0-5000"
			echo "first $k bytes, reset" \
				"| x:$(head_bytes "$k") rst | - | us | 1" \
				"| $EARLY_RST" \
				"| 0-5000"
		done
		echo "USERID without NUL, half-close" \
			"| x:0401+\$TP+7f000002+'user' shut | - | eof | 1" \
			"| client closed before a complete request | 0-5000"
		echo "4a marker, USERID, then half-close" \
			"| x:0401+\$TP+00000001+'u'+00 shut | - | eof | 1" \
			"| client closed before a complete request | 0-5000"
		echo "4a hostname without NUL, half-close" \
			"| x:0401+\$TP+00000001+'u'+00+'localho' shut | -" \
			"| eof | 1 | client closed before a complete request" \
			"| 0-5000"
	} | probe
}

# the last three: 91 at once
@test "USERID: 255 bytes granted; 256 bytes, 1 MiB, 1 MiB with no NUL" {
	probe <<-'EOF'
	USERID 255 bytes | x:0401+$EP+7f000002+75*255+00+'hi' shut
	    | 005a+$EP+7f000002+'hi' | eof | 0
	    | end: 2 bytes to client, 2 from client | 0-5000
	USERID 256 bytes | x:0401+$TP+7f000002+75*256+00 shut
	    | 005b+$TP+7f000002 | eof | 1 | USERID longer than 255 bytes
	    | 0-5000
	USERID 256 bytes, no NUL, no half-close: judged at byte 256
	    | x:0401+$TP+7f000002+75*256 | 005b+$TP+7f000002 | eof | 1
	    | USERID longer than 255 bytes | 0-5000
	USERID 1 MiB | x:0401+$TP+7f000002+75*1048576+00 shut
	    | 005b+$TP+7f000002 | eof/rst | 1 | USERID longer than 255 bytes
	    | 0-5000
	USERID 1 MiB, no NUL, no half-close | x:0401+$TP+7f000002+41*1048576
	    | 005b+$TP+7f000002 | eof/rst | 1 | USERID longer than 255 bytes
	    | 0-5000
	USERID of control bytes (any byte but NUL is allowed)
	    | x:0401+$EP+7f000002+0a0d1b5b33316d017f80ff+00+'ok' shut
	    | 005a+$EP+7f000002+'ok' | eof | 0 | both sides closed | 0-5000
	EOF
}

# and x.invalid
@test "SOCKS4a: no hostname, 300-byte hostname, NUL inside, control bytes" {
	local b x
	{
		cat <<-'EOF'
		4a marker, empty hostname | x:0401+$TP+00000001+'u'+00+00 shut
		    | 005b+$TP+00000001 | eof | 1
		    | SOCKS4a request without a hostname | 0-5000
		4a hostname of 300 bytes
		    | x:0401+$TP+00000001+'u'+00+61*300+00 shut
		    | 005b+$TP+00000001 | eof | 1
		    | hostname longer than 255 bytes | 0-5000
		4a hostname of 300 bytes, no NUL, no half-close
		    | x:0401+$TP+00000001+'u'+00+61*300 | 005b+$TP+00000001
		    | eof | 1 | hostname longer than 255 bytes | 0-5000
		4a hostname 255 bytes, one label: not a name
		    | x:0401+$TP+00000001+'u'+00+61*255+00 shut
		    | 005b+$TP+00000001 | eof | 1 | cannot resolve | 0-5000
		4a hostname x.invalid (-C 3 bounds the lookup)
		    | x:0401+$TP+00000001+'u'+00+'x.invalid'+00 shut
		    | 005b+$TP+00000001 | eof | 1
	| ~<D_NAME> :x\.invalid\n(.|\n)*<Reason> :cannot resolve x\.invalid\n
		    | 0-5000
		4a DSTIP 0.0.0.255 (still the marker)
		    | x:0401+$EP+000000ff+'u'+00+'127.0.0.2'+00+'ff' shut
		    | 005a+$EP+000000ff+'ff' | eof | 0 | <D_NAME> :127.0.0.2
		    | 0-5000
		4a hostname with a NUL inside: the rest is data
	| x:0401+$EP+00000001+'u'+00+'127.0.0.2'+00+'evil.example'+00 shut
		    | 005a+$EP+00000001+'evil.example'+00 | eof | 0
		| ~<D_NAME> :127\.0\.0\.2\n(.|\n)*<Content> :evil\.example\\x00
		    | 0-5000
		EOF
		for b in 0a 0d 09 20 01 1b 7f 80 ff; do
			x="x:0401+\$TP+00000001+'u'+00+'local'+$b+'host'+00"
			echo "4a hostname with byte $b" \
				"| $x shut" \
				"| 005b+\$TP+00000001 | eof | 1" \
				"| hostname has control or non-ASCII bytes" \
				"| 0-5000"
		done
	} | probe
}

@test "DSTIP 0.0.0.0 with CD 1, port 0: 91, nothing contacted" {
	probe <<-'EOF'
	CONNECT to 0.0.0.0 | x:0401+$TP+00000000+'u'+00 shut | 005b+$TP+00000000
	    | eof | 1 | destination 0.0.0.0 or port 0 | 0-5000
	CONNECT to port 0 | x:0401+0000+7f000002+'u'+00 shut | 005b00007f000002
	    | eof | 1 | destination 0.0.0.0 or port 0 | 0-5000
	4a CONNECT to port 0 | x:0401+0000+00000001+'u'+00+'127.0.0.2'+00 shut
	    | 005b000000000001 | eof | 1 | destination 0.0.0.0 or port 0
	    | 0-5000
	EOF
}

# No client here sends near the request deadline (6 s after connecting,
# plus however long the spawn took): a byte that arrived as socks4d gave up
# could be unread when it closed, and the client would see a reset where an
# end was meant.  So the one-byte-a-second client sends at 0.5, 1.5, ...
# 4.5 s, off the whole seconds, then waits: were the deadline renewed by
# each byte, the end would come at 10.5 s, outside the window.
@test "slow clients: silent, one byte a second, slow but in time" {
	probe <<-'EOF'
	sends nothing | wait:0 | - | eof | 1 | no complete request within 6 s
	    | 5800-9500
	connects, half-closes at once | shut | - | eof | 1
	    | client closed before a complete request | 0-5000
	one byte a second for 5 s | wait:0.5 t:1:0401+$TP+7f | - | eof | 1
	    | no complete request within 6 s | 5800-9500
	one byte every 0.1 s, done in 1 s
	    | t:0.1:0401+$EP+7f000002+00 x:'ok' shut | 005a+$EP+7f000002+'ok'
	    | eof | 0 | both sides closed | 800-5000
	EOF
}

@test "a client that disconnects at each phase" {
	probe <<-EOF
	before a byte, FIN | close | - | us | 1
	    | client closed before a complete request | 0-5000
	before a byte, RST | rst | - | us | 1
	    | $EARLY_RST | 0-5000
	mid-header, FIN | x:040100 close | - | us | 1
	    | client closed before a complete request | 0-5000
	mid-header, RST | x:040100 rst | - | us | 1
	    | $EARLY_RST | 0-5000
	mid-USERID, RST | x:0401+\$TP+7f000002+'us' rst | - | us | 1
	    | $EARLY_RST | 0-5000
	whole request, then FIN before the reply
	    | x:0401+\$EP+7f000002+'u'+00 close | - | us | 0/1 | - | 0-5000
	request and data, then FIN | x:0401+\$EP+7f000002+'u'+00+'data' close
	    | - | us | 0/1 | - | 0-5000
	after the reply, FIN | x:0401+\$EP+7f000002+'u'+00 read:8:5 close
	    | 005a+\$EP+7f000002 | us | 0 | both sides closed | 0-5000
	mid-relay, FIN | x:0401+\$EP+7f000002+'u'+00+'hello' read:13:5 close
	    | 005a+\$EP+7f000002+'hello' | us | 0
	    | end: 5 bytes to client, 5 from client | 0-5000
	mid-relay, RST | x:0401+\$EP+7f000002+'u'+00+'hello' read:13:5 rst
	    | 005a+\$EP+7f000002+'hello' | us | 1
	    | error: client: Connection reset by peer | 0-5000
	BIND waiting for its peer, FIN
	    | x:0402+\$TP+7f000002+'u'+00 read:8:5 close
	    | 005a+~[0-9a-f]{4}+7f000001 | us | 1
	    | client left while BIND waited | 0-5000
	BIND waiting for its peer, RST
	    | x:0402+\$TP+7f000002+'u'+00 read:8:5 rst
	    | 005a+~[0-9a-f]{4}+7f000001 | us | 1
	    | client left while BIND waited | 0-5000
	BIND, nobody comes (-B 3) | x:0402+\$TP+7f000002+'u'+00
	    | 005a+~[0-9a-f]{4}+7f000001+005b+\$TP+7f000002 | eof | 1
	    | no connection to BIND port | 2800-8000
	EOF
}

# exit 1
@test "a client that resets right after the reply, before any data: an error" {
	# A reset before any data must end the session as an error, not be
	# taken for an EOF and relayed to the destination as a FIN (exit 0,
	# "both sides closed"): the first read after the reply sees it.
	probe <<-'EOF'
	after the reply, RST | x:0401+$EP+7f000002+'u'+00 read:8:5 rst
	    | 005a+$EP+7f000002 | us | 1
	    | error: client: Connection reset by peer | 0-5000
	whole request, then RST before the reply
	    | x:0401+$EP+7f000002+'u'+00 rst | - | us | 1
	| ~error: client: Connection reset by peer|client gone before the reply
	    | 0-5000
	EOF
}
