#!/usr/bin/env bats
# Raw SOCKS4 requests, good and bad, byte by byte: each gets 90, 91 or a
# clean close within the deadline (-T 2 here), socks4d exits with the right
# status, and the next client is served.

BATS_TEST_TIMEOUT=30
load suite_helper

setup_file() {
	export ACCEPTS=$BATS_FILE_TMPDIR/accepts.log
	: > "$ACCEPTS"
	printf 'permit c 127.0.0.0/8\n' > "$BATS_FILE_TMPDIR/socks.conf"
	start_peer ECHO echo 127.0.0.2 --accept-log "$ACCEPTS"
	start_socks4d "$BATS_FILE_TMPDIR/socks.conf" -T 2 -C 3
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID"
}

# After each case the next client is served normally.
teardown() {
	echo_ok "$SOCKS_PORT"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
hex() { printf "$1" | od -An -tx1 | tr -d ' \n'; }
accepts() { wc -l < "$ACCEPTS"; }

# send BYTES: raw bytes from a fresh client port CPORT; sets OUT (the reply
# in hex), MS (how long until socks4d closed), PID and CODE (socks4d's exit
# status).
send() {
	local t0
	CPORT=$(client_port)
	t0=$(now_ms)
	OUT=$(raw "$CPORT" "$SOCKS_PORT" "$1")
	MS=$(( $(now_ms) - t0 ))
	PID=$(conn_pid "$CPORT")
	CODE=$(exit_code "$PID")
}

# reason TEXT: the record of this connection gives TEXT as the reason.
reason() {
	local rec
	rec=$(record_of "$CPORT")
	[[ "$rec" == *"<Reason> :$1"* ]] || die "no reason '$1' in: $rec"
}

# trickle DELAY FILE: FILE's bytes on stdout one write each, DELAY s apart.
trickle() {
	"$PYTHON" -c '
import os, sys, time
data = open(sys.argv[2], "rb").read()
for i in range(len(data)):
    os.write(1, data[i:i + 1])
    time.sleep(float(sys.argv[1]))
' "$@" 2>/dev/null
}

# 8 bytes, VN 0, CD 91
is_91() { [[ "$OUT" =~ ^005b[0-9a-f]{12}$ ]] || die "expected a 91 reply, got '$OUT'"; }

@test "VN 5 (or 0): closed with no reply, at once, exit 1" {
	send '\x05\x01\x00\x50\x7f\x00\x00\x02\x00'
	[ -z "$OUT" ] && [ "$CODE" = 1 ]
	reason 'version is not 4'
	send '\x05\x01\x00'		# a SOCKS5 greeting
	[ -z "$OUT" ] && [ "$CODE" = 1 ]
	reason 'version is not 4'
	send '\x00\x01\x00\x50\x7f\x00\x00\x02\x00'
	[ -z "$OUT" ] && [ "$CODE" = 1 ]
	reason 'version is not 4'
}

@test "CD 3, 0 and 255: 91, exit 1, the destination is not contacted" {
	local cd before=$(accepts)
	for cd in 03 00 ff; do
		send "\\x04\\x$cd$(req 1 "$ECHO_PORT" 127.0.0.2 u | cut -c9-)"
		is_91
		[ "$CODE" = 1 ]
		reason 'command is neither CONNECT nor BIND'
	done
	[ "$(accepts)" = "$before" ]
}

@test "truncated request, then close: no reply, no wait for the deadline, exit 1" {
	local bytes
	for bytes in '\x04' '\x04\x01\x00' '\x04\x01\x00\x50\x7f\x00\x00' \
		'\x04\x01\x00\x50\x7f\x00\x00\x02user-without-nul' \
		'\x04\x01\x00\x50\x00\x00\x00\x01u\x00host-without-nul'; do
		send "$bytes"
		[ -z "$OUT" ] && [ "$CODE" = 1 ] || die "$bytes: '$OUT' exit $CODE"
		reason 'client closed before a complete request'
	done
}

@test "request split over many writes, one byte at a time: 90 and relayed" {
	local t=$BATS_TEST_TMPDIR c pid
	c=$(client_port)
	printf "$(req 1 "$ECHO_PORT" 127.0.0.2 slow)one byte at a time\n" > "$t/req"
	trickle 0.03 "$t/req" | timeout 20 socat -t 3 - "TCP:127.0.0.1:$SOCKS_PORT,sourceport=$c,reuseaddr" > "$t/out"
	[ "$(od -An -tx1 "$t/out" | tr -d ' \n')" = "005a$(printf '%04x' "$ECHO_PORT")7f000002$(hex 'one byte at a time\n')" ]
	pid=$(conn_pid "$c")
	[ "$(exit_code "$pid")" = 0 ]
	run -0 end_line "$pid"
	[[ "$output" == *": end: 19 bytes to client, 19 from client, "* ]]

	# SOCKS4a, hostname and all, the same way
	c=$(client_port)
	printf "$(req 1 "$ECHO_PORT" 0.0.0.1 slow 127.0.0.2)4a\n" > "$t/req4a"
	trickle 0.03 "$t/req4a" | timeout 20 socat -t 3 - "TCP:127.0.0.1:$SOCKS_PORT,sourceport=$c,reuseaddr" > "$t/out4a"
	[ "$(od -An -tx1 "$t/out4a" | tr -d ' \n')" = "005a$(printf '%04x' "$ECHO_PORT")00000001$(hex '4a\n')" ]
	[ "$(exit_code "$(conn_pid "$c")")" = 0 ]
}

@test "request split in two writes, inside USERID" {
	local t=$BATS_TEST_TMPDIR c
	c=$(client_port)
	{ printf '\x04\x01'; printf "\\x$(printf '%02x' $((ECHO_PORT >> 8)))\\x$(printf '%02x' $((ECHO_PORT & 255)))"
	  printf '\x7f\x00\x00\x02us'; sleep 0.3; printf 'er\x00two writes\n'; } |
		timeout 20 socat -t 3 - "TCP:127.0.0.1:$SOCKS_PORT,sourceport=$c,reuseaddr" > "$t/out"
	[ "$(od -An -tx1 "$t/out" | tr -d ' \n')" = "005a$(printf '%04x' "$ECHO_PORT")7f000002$(hex 'two writes\n')" ]
}

@test "USERID of 255 bytes: 90; of 256 bytes: 91" {
	local u255 before
	u255=$(printf 'u%.0s' {1..255})
	send "$(req 1 "$ECHO_PORT" 127.0.0.2 "$u255")ok\n"
	[ "$OUT" = "005a$(printf '%04x' "$ECHO_PORT")7f000002$(hex 'ok\n')" ]
	[ "$CODE" = 0 ]
	before=$(accepts)
	send "$(req 1 "$ECHO_PORT" 127.0.0.2 "${u255}x")ok\n"
	is_91
	[ "$CODE" = 1 ] && [ "$(accepts)" = "$before" ]
	reason 'USERID longer than 255 bytes'
	# no NUL in sight: rejected once 256 bytes have come, not at the deadline
	send "$(req 1 "$ECHO_PORT" 127.0.0.2 "${u255}x" | sed 's/\\x00$//')"
	is_91
	reason 'USERID longer than 255 bytes'
}

@test "a 2000-byte request: 91, exit 1" {
	local u before=$(accepts)
	u=$(printf 'A%.0s' {1..1991})
	send "$(req 1 "$ECHO_PORT" 127.0.0.2 "$u")"
	is_91
	[ "$CODE" = 1 ]
	reason 'USERID longer than 255 bytes'
	# and 2000 bytes of a 4a request whose hostname never ends
	send "$(req 1 "$ECHO_PORT" 0.0.0.1 u "$(printf 'h%.0s' {1..1988})" | sed 's/\\x00$//')"
	is_91
	[ "$CODE" = 1 ]
	reason 'hostname longer than 255 bytes'
	[ "$(accepts)" = "$before" ]
}

@test "SOCKS4a marker with an empty hostname: 91" {
	local before=$(accepts)
	send '\x04\x01\x00\x50\x00\x00\x00\x01user\x00\x00'
	is_91
	[ "$CODE" = 1 ]
	reason 'SOCKS4a request without a hostname'
	[ "$(accepts)" = "$before" ]
}

@test "SOCKS4a hostname of 300 bytes, or with control bytes: 91" {
	local before=$(accepts)
	send "$(req 1 "$ECHO_PORT" 0.0.0.1 u "$(printf 'a%.0s' {1..300})")"
	is_91
	[ "$CODE" = 1 ]
	reason 'hostname longer than 255 bytes'
	send "$(req 1 "$ECHO_PORT" 0.0.0.1 u 'local\nhost')"
	is_91
	reason 'hostname has control or non-ASCII bytes'
	[ "$(accepts)" = "$before" ]
}

@test "unresolvable name (nonexistent.invalid): 91 within the deadline" {
	send "$(req 1 "$ECHO_PORT" 0.0.0.1 u nonexistent.invalid)"
	[ "$OUT" = "005b$(printf '%04x' "$ECHO_PORT")00000001" ]
	[ "$CODE" = 1 ] && (( MS < 6000 ))	# -C 3 bounds the lookup
	run -0 record_of "$CPORT"
	[[ "$output" == *$'<D_NAME> :nonexistent.invalid\n'* ]]
	[[ "$output" == *"<Reason> :cannot resolve nonexistent.invalid"* ]]
}

@test "DSTIP 0.0.0.0 with CD 1, and port 0: 91, nothing contacted" {
	local before=$(accepts)
	send "$(req 1 "$ECHO_PORT" 0.0.0.0 u)"
	[ "$OUT" = "005b$(printf '%04x' "$ECHO_PORT")00000000" ]
	[ "$CODE" = 1 ]
	send "$(req 1 0 127.0.0.2 u)"
	[ "$OUT" = "005b00007f000002" ]
	[ "$CODE" = 1 ]
	send "$(req 1 0 0.0.0.1 u 127.0.0.2)"
	is_91
	[ "$(accepts)" = "$before" ]
}

@test "a client that sends nothing is dropped at the deadline (-T 2)" {
	local c t0 ms out pid
	c=$(client_port)
	t0=$(now_ms)
	out=$(timeout 20 socat -u "TCP:127.0.0.1:$SOCKS_PORT,sourceport=$c,reuseaddr" - | od -An -tx1)
	ms=$(( $(now_ms) - t0 ))
	[ -z "$out" ]
	(( ms >= 1800 && ms < 4000 )) || die "closed after $ms ms"
	pid=$(conn_pid "$c")
	[ "$(exit_code "$pid" "$SOCKS_LOG" 1)" = 1 ]	# gone already
	CPORT=$c reason 'no complete request within 2 s'
}

@test "one byte a second: dropped at the deadline, not kept alive by each byte" {
	local t=$BATS_TEST_TMPDIR c t0 ms pid bg
	c=$(client_port)
	printf "$(req 1 "$ECHO_PORT" 127.0.0.2 slowloris)" > "$t/req"
	t0=$(now_ms)
	trickle 1 "$t/req" |
		timeout 20 socat -t 0.2 - "TCP:127.0.0.1:$SOCKS_PORT,sourceport=$c,reuseaddr" \
		> "$t/out" 2>/dev/null 3>&- &
	bg=$!
	pid=$(conn_pid "$c")
	[ "$(exit_code "$pid")" = 1 ]
	ms=$(( $(now_ms) - t0 ))	# how long socks4d lived, give or take a poll
	wait "$bg" || true
	[ ! -s "$t/out" ]
	(( ms >= 1800 && ms < 4000 )) || die "socks4d lived $ms ms"
	CPORT=$c reason 'no complete request within 2 s'
}

@test "no sanitizer reports in the log" {
	no_sanitizer_reports "$SOCKS_LOG"
}
