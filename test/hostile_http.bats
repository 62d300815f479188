#!/usr/bin/env bats
# Malformed and hostile HTTP CONNECT heads, end to end, table-driven (the
# hostile_probe.py harness of hostile.bats): every row states the exact
# response (status line, headers and the one-line body, as hex), how and
# when the connection ends, socks4d's exit status and the reason it logs.
# After each test: no socks4d left behind, no sanitizer report, no death by
# signal, the trap never reached, and the next client served.
# Also the destination's failures: refused (502), silent (504).
# Deadlines: -T 6 (request), -C 3 (connect, name lookup).  "At once" is
# within 5 s of connecting, as in hostile.bats.
#
# Table columns (see hostile_probe.py):
#   label | steps | reply | end | exit | reason | ms
# Requests name ports in decimal ASCII, so the rows are built in the shell
# with the ports of this file's peers: $EPD the echo peer's, $TPD the
# trap's (both on 127.0.0.2; the trap must never be reached).
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=120
load test_helper

setup_file() {
	export TRAPLOG=$BATS_FILE_TMPDIR/trap.log
	: > "$TRAPLOG"
	printf 'permit c 127.0.0.0/8\n' > "$BATS_FILE_TMPDIR/socks.conf"
	start_peer ECHO echo 127.0.0.2
	start_peer TRAP echo 127.0.0.2 --accept-log "$TRAPLOG"
	start_peer HOLE blackhole 127.0.0.2
	start_socks4d "$BATS_FILE_TMPDIR/socks.conf" -T 6 -C 3 -u \
		"$BATS_FILE_TMPDIR/none"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID" "$TRAP_PID" "$HOLE_PID"
}

setup() {
	EPD=$ECHO_PORT TPD=$TRAP_PORT
	GRANT=$(hex 'HTTP/1.1 200 Connection established\r\n\r\n')
}

teardown() {
	invariants_held
}

# h TEXT: printf-escaped TEXT as hex, for a step or a reply.
h() { hex "$1"; }

# resp STATUS BODY: the exact refusal socks4d sends, as hex: status line,
# the headers (Allow for 405, Proxy-Authenticate for 407), the one-line
# body.
resp() {
	local phrase extra=
	case $1 in
	400) phrase='Bad Request' ;;
	405) phrase='Method Not Allowed' extra='Allow: CONNECT\r\n' ;;
	431) phrase='Request Header Fields Too Large' ;;
	502) phrase='Bad Gateway' ;;
	505) phrase='HTTP Version Not Supported' ;;
	esac
	printf '%s' "$(h "HTTP/1.1 $1 $phrase\r\n$extra")"
	printf '%s' "$(h 'Content-Type: text/plain; charset=utf-8\r\n')"
	printf '%s' "$(h "Content-Length: $(( ${#2} + 1 ))\r\n")"
	printf '%s' "$(h 'Connection: close\r\n\r\n')"
	printf '%s' "$(h "$2\n")"
}

# bad LABEL STATUS WHY HEAD: a row: HEAD (printf escapes) sent in one
# write, no half-close; STATUS and WHY (the body, and the log's reason)
# back at once, the connection closed, exit 1.
bad() {
	echo "$1 | x:$(h "$4") | $(resp "$2" "$3") | eof | 1" \
		"| <Reason> :$3 | 0-5000"
}

# trap_line: the request line to the trap, printf-escaped.
trap_line() { printf 'CONNECT 127.0.0.2:%s HTTP/1.1\\r\\n' "$TPD"; }

@test "well-formed variants are granted and relayed" {
	local e="127.0.0.2:$EPD" step
	{
		echo "HTTP/1.1, Host as the target | x:$(h \
			"CONNECT $e HTTP/1.1\r\nHost: $e\r\n\r\nhi") shut" \
			"| $GRANT$(h hi) | eof | 0 | both sides closed | 0-5000"
		echo "HTTP/1.0, no Host | x:$(h \
			"CONNECT $e HTTP/1.0\r\n\r\nhi") shut" \
			"| $GRANT$(h hi) | eof | 0 | <Version> :HTTP | 0-5000"
		echo "bare LF line ends | x:$(h \
			"CONNECT $e HTTP/1.1\nHost: $e\n\nhi") shut" \
			"| $GRANT$(h hi) | eof | 0 | both sides closed | 0-5000"
		step=$(h "CONNECT $e HTTP/1.1\r\nhOsT: 127.0.0.2\r\n")
		step+=$(h "content-length: 0\r\nUser-Agent:  x  \r\n\r\nhi")
		echo "Host: the host alone, other case headers | x:$step shut" \
			"| $GRANT$(h hi) | eof | 0 | both sides closed | 0-5000"
		step=$(h "CONNECT $e HTTP/1.1\r\nHost: $e\r\n\r\n")
		echo "split over many segments (one byte every 20 ms)" \
			"| t:0.02:$step x:'split' shut | $GRANT$(h split)" \
			"| eof | 0" \
			"| end: 5 bytes to client, 5 from client | 300-5900"
	} | probe
}

@test "a head of exactly 8192 bytes granted; 8193 bytes and more: 431" {
	local line="CONNECT 127.0.0.2:$EPD HTTP/1.1\r\n" n why tl flood long
	why='request line and headers longer than 8192 bytes'
	# line + "X: " + pad + CRLF + CRLF = 8192 bytes
	n=$(( 8192 - (${#line} - 2) - 3 - 4 ))
	tl=$(h "$(trap_line)")
	flood=$(h 'X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n')	# 45
	{
		echo "head 8192 bytes" \
			"| x:$(h "${line}X: ")+61*$n+0d0a0d0a+'tail' shut" \
			"| $GRANT$(h tail) | eof | 0 | both sides closed" \
			"| 0-5000"
		# the same to the trap, one byte more
		n=$(( 8192 - ($(trap_line | wc -c) - 2) - 3 - 4 + 1 ))
		echo "head 8193 bytes | x:$tl+$(h 'X: ')+61*$n+0d0a0d0a" \
			"| $(resp 431 "$why") | eof | 1 | <Reason> :$why" \
			"| 0-5000"
		# 200 lines of 45 bytes: 9000 bytes of headers
		echo "header flood, 9000 bytes | x:$tl+$flood*200+0d0a" \
			"| $(resp 431 "$why") | eof | 1 | <Reason> :$why" \
			"| 0-5000"
		# "CONNECT " + long + ":PORT HTTP/1.1": 8193 bytes, then CRLF
		long=$((8193 - 8 - ${#TPD} - 10))
		echo "request line of 8193 bytes" \
			"| x:$(h 'CONNECT ')+61*$long+$(h \
			":$TPD HTTP/1.1\r\n\r\n") | $(resp 431 "$why")" \
			"| eof | 1 | <Reason> :$why | 0-5000"
		echo "1 MiB of one header, never ending" \
			"| x:$tl+$(h 'X: ')+61*1048576" \
			"| $(resp 431 "$why") | eof/rst | 1 | <Reason> :$why" \
			"| 0-5000"
	} | probe
}

@test "malformed heads: 400 with the reason, the trap never reached" {
	local t=127.0.0.2:$TPD tl pa=Proxy-Authorization b64
	b64="$pa Basic is not base64 of user:password (1..255, 0..255 bytes)"
	tl=$(trap_line)
	{
		bad "NUL in the request line" 400 "NUL byte in the request" \
			"CONNECT 127.0.0.2:$TPD\0 HTTP/1.1\r\n\r\n"
		bad "NUL in a header" 400 "NUL byte in the request" \
			"${tl}X-A: a\0b\r\n\r\n"
		bad "bare CR in the request line" 400 "CR not followed by LF" \
			"CONNECT $t\rHTTP/1.1\r\n\r\n"
		bad "bare CR in a header" 400 "CR not followed by LF" \
			"${tl}X-A: a\rb\r\n\r\n"
		bad "obs-fold" 400 "obsolete line folding in the headers" \
			"${tl}X-A: a\r\n  folded\r\n\r\n"
		bad "obs-fold with a tab" 400 \
			"obsolete line folding in the headers" \
			"${tl}X-A: a\r\n\tfolded\r\n\r\n"
		bad "blank before the colon" 400 \
			"whitespace between a header field name and its colon" \
			"${tl}Host : $t\r\n\r\n"
		bad "tab before the colon" 400 \
			"whitespace between a header field name and its colon" \
			"${tl}Proxy-Authorization\t: Basic YTpi\r\n\r\n"
		bad "header without a colon" 400 "header line without a colon" \
			"${tl}X-A a\r\n\r\n"
		bad "duplicate Host" 400 "Host header twice" \
			"${tl}Host: $t\r\nHost: $t\r\n\r\n"
		bad "Host differs from the target" 400 \
			"Host header differs from the request target" \
			"${tl}Host: 127.0.0.2:$EPD\r\n\r\n"
		bad "Host differs by its host" 400 \
			"Host header differs from the request target" \
			"${tl}Host: 127.0.0.3\r\n\r\n"
		bad "two Proxy-Authorization" 400 \
			"Proxy-Authorization header twice" \
			"${tl}$pa: Basic YTpi\r\n$pa: Basic YTpi\r\n\r\n"
		bad "Proxy-Authorization Basic, not base64" 400 \
			"$b64" \
			"${tl}Proxy-Authorization: Basic !!!!\r\n\r\n"
		bad "Content-Length: 5" 400 "CONNECT carries no content" \
			"${tl}Content-Length: 5\r\n\r\nhello"
		bad "Content-Length: 0 twice" 400 "CONNECT carries no content" \
			"${tl}Content-Length: 0\r\nContent-Length: 0\r\n\r\n"
		bad "Transfer-Encoding: chunked" 400 \
			"CONNECT carries no content" \
			"${tl}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
		bad "control byte in a header value" 400 \
			"control byte in a header field value" \
			"${tl}X-A: a\x01b\r\n\r\n"
	} | probe
}

@test "bad targets and versions: 400, 505, the trap never reached" {
	local port='port is not 1..65535'
	local form="target is not host:port (CONNECT's authority-form)"
	{
		bad "port 65536" 400 "$port" \
			'CONNECT 127.0.0.2:65536 HTTP/1.1\r\n\r\n'
		bad "port 0" 400 "$port" 'CONNECT 127.0.0.2:0 HTTP/1.1\r\n\r\n'
		bad "port 99999999" 400 "$port" \
			'CONNECT 127.0.0.2:99999999 HTTP/1.1\r\n\r\n'
		bad "port empty" 400 "$port" \
			'CONNECT 127.0.0.2: HTTP/1.1\r\n\r\n'
		bad "port +80" 400 "$port" \
			"CONNECT 127.0.0.2:+$TPD HTTP/1.1\r\n\r\n"
		bad "port missing" 400 "$form" \
			'CONNECT 127.0.0.2 HTTP/1.1\r\n\r\n'
		bad "IPv4 in brackets" 400 \
			'target in brackets is not an IPv6 address' \
			"CONNECT [127.0.0.2]:$TPD HTTP/1.1\r\n\r\n"
		bad "IPv6 with a zone" 400 \
			'target in brackets is not an IPv6 address' \
			"CONNECT [fe80::1%%lo]:$TPD HTTP/1.1\r\n\r\n"
		bad "absolute URI as the target" 400 "$form" \
			"CONNECT http://127.0.0.2:$TPD/ HTTP/1.1\r\n\r\n"
		bad "user@ in the target" 400 "$form" \
			"CONNECT u@127.0.0.2:$TPD HTTP/1.1\r\n\r\n"
		bad "two blanks after the method" 400 \
			'request line is not METHOD SP TARGET SP HTTP-VERSION' \
			"CONNECT  127.0.0.2:$TPD HTTP/1.1\r\n\r\n"
		bad "no version" 400 \
			'request line is not METHOD SP TARGET SP HTTP-VERSION' \
			"CONNECT 127.0.0.2:$TPD\r\n\r\n"
		bad "lowercase http/1.1" 400 \
			'request line does not end in an HTTP version' \
			"CONNECT 127.0.0.2:$TPD http/1.1\r\n\r\n"
		bad "HTTP/2.0" 505 'HTTP version is neither 1.0 nor 1.1' \
			"CONNECT 127.0.0.2:$TPD HTTP/2.0\r\n\r\n"
		bad "HTTP/1.2" 505 'HTTP version is neither 1.0 nor 1.1' \
			"CONNECT 127.0.0.2:$TPD HTTP/1.2\r\n\r\n"
		bad "HTTP/0.9" 505 'HTTP version is neither 1.0 nor 1.1' \
			"CONNECT 127.0.0.2:$TPD HTTP/0.9\r\n\r\n"
	} | probe
}

@test "other methods: 405 and Allow: CONNECT; lowercase is not HTTP at all" {
	local m='method is not CONNECT: only CONNECT is served here'
	m+=' (not a forwarding proxy)'
	{
		bad "GET / HTTP/1.1" 405 "$m" \
			"GET / HTTP/1.1\r\nHost: 127.0.0.2:$TPD\r\n\r\n"
		bad "GET absolute URI" 405 "$m" \
			"GET http://127.0.0.2:$TPD/ HTTP/1.1\r\n\r\n"
		bad "POST with a body" 405 "$m" \
			"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
		bad "Connect (methods are case-sensitive)" 405 "$m" \
			"Connect 127.0.0.2:$TPD HTTP/1.1\r\n\r\n"
		bad "CONNECTX" 405 "$m" \
			"CONNECTX 127.0.0.2:$TPD HTTP/1.1\r\n\r\n"
		# a first byte that is no capital letter is not HTTP: SOCKS4's
		# check, no reply
		echo "lowercase connect" \
			"| x:$(h "connect 127.0.0.2:$TPD HTTP/1.1\r\n\r\n")" \
			"| - | eof | 1" \
			"| <Reason> :version is not 4 | 0-5000"
		bad "method byte not a token" 400 \
			'request line does not begin with METHOD SP' \
			"CON(NECT 127.0.0.2:$TPD HTTP/1.1\r\n\r\n"
	} | probe
}

# As in hostile.bats: the slow client sends off the whole seconds, so no
# byte arrives just as socks4d gives up.
@test "slow and short heads: dropped at the deadline, no reply" {
	local tl late='no complete request within 6 s'
	local early='client closed before a complete request'
	tl=$(trap_line)
	{
		echo "slow headers, one byte a second past -T" \
			"| wait:0.5 t:1:$(h "${tl}X-Slow: aaaaaaaaaaaa")" \
			"| - | eof | 1 | $late | 5800-9500"
		echo "head without its empty line, then silence" \
			"| x:$(h "${tl}Host: 127.0.0.2:$TPD\r\n")" \
			"| - | eof | 1 | $late | 5800-9500"
		echo "head cut short by a half-close | x:$(h "$tl") shut" \
			"| - | eof | 1 | $early | 0-5000"
		echo "a lone capital letter, then a half-close | x:'C' shut" \
			"| - | eof | 1 | $early | 0-5000"
	} | probe
}

# ETIMEDOUT reads "Connection timed out" in glibc, "Operation timed out" in
# musl (faults.bats): the body is matched up to it
@test "the destination: refused, 502; no answer within -C 3, 504" {
	local closed to hole refused
	closed=$(free_port)
	refused="connect to 127.0.0.2 port $closed: Connection refused"
	to="connect to 127.0.0.2 port $HOLE_PORT: "
	hole="CONNECT 127.0.0.2:$HOLE_PORT HTTP/1.1\r\n\r\n"
	{
		bad "connection refused" 502 "$refused" \
			"CONNECT 127.0.0.2:$closed HTTP/1.1\r\n\r\n"
		echo "no answer (SYN dropped) | x:$(h "$hole")" \
			"| $(h 'HTTP/1.1 504 Gateway Timeout\r\n')+$(h \
			'Content-Type: text/plain; charset=utf-8\r\n')+~.*+$(h \
			"\r\n\r\n$to")+~.*+$(h ' timed out\n') | eof | 1" \
			"| ~<Reason> :$to(Connection|Operation) timed out" \
			"| 2500-8000"
	} | probe
}
