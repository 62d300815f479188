#!/usr/bin/env bats
# HTTP CONNECT on the SOCKS port, with real clients on loopback: curl -p -x
# (by address, IPv6, by name; Basic logins right, wrong and missing), the
# refusals a client sees (403, 502, 405), early data and half-closes with
# a raw client, headless Chromium and git over HTTPS through the tunnel,
# ncat --proxy-type http, proxychains4's "http" proxy type, and the record
# (<Version> :HTTP; syslog's one line "HTTP CONNECT ..."); a host name in
# socks.conf.  Malformed and hostile heads: hostile_http.bats.
#
# The destinations: Python's http.server on 127.0.0.1 (and ::1), an HTTPS
# one (a self-signed certificate for localhost) on 127.0.0.1, echo peers
# on 127.0.0.2, and a trap peer that a refused request must never reach.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=120
load test_helper

# tls_server.py DIR PORT CERT KEY: http.server for DIR over TLS on
# 127.0.0.1:PORT (what git's dumb HTTP protocol and Chromium fetch).
TLS_SERVER='
import functools, http.server, ssl, sys
d, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=d)
s = http.server.ThreadingHTTPServer(("127.0.0.1", port), h)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
'

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www" "$d/tls"
	export MARKER="socks4d http page $RANDOM$RANDOM"
	printf '<html><head><title>t</title></head>%s\n' \
		"<body><p id=\"m\">$MARKER</p></body></html>" \
		>"$d/www/index.html"
	cp "$d/www/index.html" "$d/tls/index.html"
	head -c 1048576 /dev/urandom >"$d/www/bin.dat"
	export TRAPLOG=$d/trap.log
	: >"$TRAPLOG"

	start_web HTTP 127.0.0.1 "$d/www"
	export HAVE_V6=
	if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
		start_web HTTP6 ::1 "$d/www"
		HAVE_V6=1
	fi
	start_peer ECHO echo 127.0.0.2
	start_peer AFTER after-eof 127.0.0.2
	start_peer TRAP echo 127.0.0.2 --accept-log "$TRAPLOG"

	# the HTTPS server: a self-signed certificate for localhost
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
	serve HTTPS 127.0.0.1 "$d/https.log" with_port "$PYTHON" -c \
		"$TLS_SERVER" "$d/tls" @PORT@ "$d/cert.pem" "$d/key.pem"

	# MAIN: loopback, but not the trap; no users file
	printf '%s\n' "deny c 127.0.0.2 port $TRAP_PORT" \
		'permit c 127.0.0.0/8' 'permit c ::1' >"$d/main.conf"
	MAIN_LOG=$d/main.log start_socks4d_as MAIN "$d/main.conf" \
		-u "$d/none" -T 10 -C 5
	# AUTH: alice's login needed
	users_file "$d/socks.passwd" alice wonderland bob builder
	printf 'permit c 127.0.0.0/8 user alice\n' >"$d/auth.conf"
	AUTH_LOG=$d/auth.log start_socks4d_as AUTH "$d/auth.conf" \
		-u "$d/socks.passwd" -T 10 -C 5
}

teardown_file() {
	kill_pids "${MAIN_PID:-}" "${AUTH_PID:-}" "${SYS_PID:-}" \
		"${SYSLOG_PID:-}" "${HTTP_PID:-}" "${HTTP6_PID:-}" \
		"${HTTPS_PID:-}" "${ECHO_PID:-}" "${AFTER_PID:-}" \
		"${TRAP_PID:-}" "${NAMES_PID:-}"
}

teardown() {
	[ ! -s "$TRAPLOG" ] ||
		die "a refused request reached the trap: $(cat "$TRAPLOG")"
	no_sanitizer_reports "$MAIN_LOG"
	no_sanitizer_reports "$AUTH_LOG"
	no_crash "$MAIN_LOG"
	no_crash "$AUTH_LOG"
}

# What a granted tunnel's record holds (wait_recs form), and the grant.
OK='<Command> :CONNECT\|<Version> :HTTP\|<Reply> :Accept'
GRANT='HTTP/1.1 200 Connection established\r\n\r\n'
LO='<D_IP> :127\.0\.0\.1'

# through PORT CPORT CURL-ARGS...: curl through the HTTP proxy on PORT
# with a CONNECT tunnel (-p), from local port CPORT.
through() {
	local port=$1 c=$2
	shift 2
	curl -sS --max-time 30 --local-port "$c" -p \
		-x "http://127.0.0.1:$port" "$@"
}

# exit_of CPORT LOG: the exit status of the socks4d that served CPORT.
exit_of() {
	local pid
	pid=$(conn_pid "$1" "$2") || return 1
	exit_code "$pid" "$2" 20
}

# session_ok CPORT LOG: socks4d served CPORT and exited 0.
session_ok() {
	[ "$(exit_of "$1" "$2")" = 0 ] || die "socks4d did not exit 0 for $1"
}

@test "curl -p -x http://: a 1 MiB file byte for byte, record says HTTP" {
	local c rec
	c=$(client_port)
	through "$MAIN_PORT" "$c" -o "$BATS_TEST_TMPDIR/bin.dat" \
		"http://127.0.0.1:$HTTP_PORT/bin.dat"
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/bin.dat")" \
		= "$(sha256sum <"$BATS_FILE_TMPDIR/www/bin.dat")" ]
	rec=$(record_of "$c" "$MAIN_LOG")
	has "$rec" "<D_IP> :127.0.0.1"
	has "$rec" "<D_PORT> :$HTTP_PORT"
	has "$rec" "<Command> :CONNECT"
	has "$rec" "<Version> :HTTP"
	has "$rec" "<Reply> :Accept"
	# the content is the tunnel's first bytes, not the CONNECT head
	local get="<Content> :GET /bin.dat HTTP/1.1\\r\\n"
	get+="Host: 127.0.0.1:$HTTP_PORT\\r\\n"
	grep -qF -- "$get" <<<"$rec" || die "content: $rec"
	session_ok "$c" "$MAIN_LOG"
	# the end line counts the tunnel's bytes, the file in them
	local pid re
	pid=$(conn_pid "$c" "$MAIN_LOG")
	run -0 end_line "$pid" "$MAIN_LOG"
	re="^socks4d\[$pid\]: end: 10[0-9]{5} bytes to client, [0-9]+ from"
	[[ $output =~ $re ]] || die "end line: $output"
}

# fetched HOST PORT ADDR: the page from HOST:PORT through MAIN's tunnel;
# the record names ADDR and PORT (and HOST, if a name), says HTTP and
# Accept, and socks4d exits 0.
fetched() {
	local c rec
	c=$(client_port)
	run -0 through "$MAIN_PORT" "$c" "http://$1:$2/index.html"
	[[ $output == *"$MARKER"* ]]
	rec=$(record_of "$c" "$MAIN_LOG")
	has "$rec" "<D_IP> :$3"
	has "$rec" "<D_PORT> :$2"
	[[ $1 == [[0-9]* ]] || has "$rec" "<D_NAME> :$1"
	has "$rec" "<Version> :HTTP"
	has "$rec" "<Reply> :Accept"
	session_ok "$c" "$MAIN_LOG"
}

@test "curl -p -x http://: an IPv6 target [::1]" {
	[ -n "$HAVE_V6" ] || skip "no ::1 on lo"
	fetched '[::1]' "$HTTP6_PORT" ::1
}

@test "curl -p -x http://: a name (localhost) resolved by socks4d" {
	fetched localhost "$HTTP_PORT" 127.0.0.1
}

@test "Proxy-Authorization: alice's right password served, <User> :alice" {
	local c rec
	c=$(client_port)
	run -0 through "$AUTH_PORT" "$c" --proxy-user alice:wonderland \
		-w '%{http_connect}\n' "http://127.0.0.1:$HTTP_PORT/index.html"
	[[ $output == *"$MARKER"* ]]
	[ "${lines[-1]}" = 200 ]
	rec=$(record_of "$c" "$AUTH_LOG")
	has "$rec" "<User> :alice"
	has "$rec" "<Version> :HTTP"
	has "$rec" "<Reply> :Accept"
	session_ok "$c" "$AUTH_LOG"
	run ! grep -q wonderland "$AUTH_LOG"
}

@test "Proxy-Authorization: a wrong password gets 407, 'login failed', exit 3" {
	local c rec hits
	hits=$(grep -c 'GET /index.html' "$BATS_FILE_TMPDIR/http.log" || :)
	c=$(client_port)
	run through "$AUTH_PORT" "$c" --proxy-user alice:wonderlant \
		-w '%{http_connect}\n' "http://127.0.0.1:$HTTP_PORT/index.html"
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" = 407 ] || die "curl saw: $output"
	[[ $output != *"$MARKER"* ]]
	rec=$(record_of "$c" "$AUTH_LOG")
	has "$rec" "<Reason> :login failed for alice: wrong password"
	has "$rec" "<Reply> :Reject"
	run ! grep -q '^<D_' <<<"$rec"
	[ "$(exit_of "$c" "$AUTH_LOG")" = 3 ]
	run ! grep -q wonderlant "$AUTH_LOG"
	[ "$(grep -c 'GET /index.html' "$BATS_FILE_TMPDIR/http.log" || :)" \
		= "$hits" ]
}

@test "Proxy-Authorization: bob, a known user the rule does not list: 403" {
	local c
	c=$(client_port)
	run through "$AUTH_PORT" "$c" --proxy-user bob:builder \
		-w '%{http_connect}\n' "http://127.0.0.1:$HTTP_PORT/index.html"
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" = 403 ] || die "curl saw: $output"
	[ "$(exit_of "$c" "$AUTH_LOG")" = 1 ]
}

@test "no credentials where a login would permit: 407 Proxy-Authenticate" {
	local c
	c=$(client_port)
	run through "$AUTH_PORT" "$c" -v \
		"http://127.0.0.1:$HTTP_PORT/index.html"
	[ "$status" -ne 0 ]
	[[ $output == *"< HTTP/1.1 407 Proxy Authentication Required"* ]] ||
		die "curl saw: $output"
	local pa='Proxy-Authenticate: Basic realm="socks4d", charset="UTF-8"'
	[[ $output == *"< $pa"* ]] || die "no Proxy-Authenticate: $output"
	# the body, as a raw client sees it
	c=$(client_port)
	local t=127.0.0.1:$HTTP_PORT
	run -0 raw "$c" "$AUTH_PORT" "CONNECT $t HTTP/1.1\r\nHost: $t\r\n\r\n"
	local want="HTTP/1.1 407 Proxy Authentication Required\r\n"
	want+='Proxy-Authenticate: Basic realm="socks4d", charset="UTF-8"\r\n'
	want+="Content-Type: text/plain; charset=utf-8\r\n"
	want+="Content-Length: 36\r\nConnection: close\r\n\r\n"
	want+="socks4d: this request needs a login\n"
	[ "$output" = "$(hex "$want")" ] ||
		die "got $(xxd -r -p <<<"$output")"
	[ "$(exit_of "$c" "$AUTH_LOG")" = 1 ]
	# where no login would do (no rule for 10.0.0.0/8): 403, not 407
	c=$(client_port)
	run -0 raw "$c" "$AUTH_PORT" "CONNECT 10.255.255.1:80 HTTP/1.1\r\n\r\n"
	[[ $output == "$(hex 'HTTP/1.1 403 Forbidden\r\n')"* ]] ||
		die "got $(xxd -r -p <<<"$output")"
}

@test "a destination socks.conf denies: 403, no rule told, trap untouched" {
	local c want
	c=$(client_port)
	run curl -sS --max-time 30 --local-port "$c" -p \
		-x "http://127.0.0.1:$MAIN_PORT" -w '%{http_connect}\n' \
		"http://127.0.0.2:$TRAP_PORT/"
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" = 403 ] || die "curl saw: $output"
	[ "$(exit_of "$c" "$MAIN_LOG")" = 1 ]
	c=$(client_port)
	run -0 raw "$c" "$MAIN_PORT" \
		"CONNECT 127.0.0.2:$TRAP_PORT HTTP/1.1\r\n\r\n"
	want="HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; "
	want+="charset=utf-8\r\nContent-Length: 28\r\nConnection: close\r\n"
	want+="\r\nsocks4d: not permitted here\n"
	[ "$output" = "$(hex "$want")" ] ||
		die "got $(xxd -r -p <<<"$output")"
	has "$(record_of "$c" "$MAIN_LOG")" \
		"<Reason> :$BATS_FILE_TMPDIR/main.conf:1 denies"
	[ "$(exit_of "$c" "$MAIN_LOG")" = 1 ]
	sleep 0.5
	[ ! -s "$TRAPLOG" ]
}

@test "connection refused: 502 Bad Gateway, the reason as the body" {
	local c port want
	port=$(free_port)
	c=$(client_port)
	run through "$MAIN_PORT" "$c" -w '%{http_connect}\n' \
		"http://127.0.0.1:$port/"
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" = 502 ] || die "curl saw: $output"
	c=$(client_port)
	run -0 raw "$c" "$MAIN_PORT" "CONNECT 127.0.0.1:$port HTTP/1.1\r\n\r\n"
	local body="connect to 127.0.0.1 port $port: Connection refused"
	want="HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; "
	want+="charset=utf-8\r\nContent-Length: $(( ${#body} + 1 ))\r\n"
	want+="Connection: close\r\n\r\n$body\n"
	[ "$output" = "$(hex "$want")" ] ||
		die "got $(xxd -r -p <<<"$output")"
	has "$(record_of "$c" "$MAIN_LOG")" "<Reason> :$body"
	[ "$(exit_of "$c" "$MAIN_LOG")" = 1 ]
}

@test "GET absolute-URI (curl -x, no -p): 405, Allow: CONNECT, none sent on" {
	local c hits
	hits=$(grep -c 'GET /index.html' "$BATS_FILE_TMPDIR/http.log" || :)
	c=$(client_port)
	run -0 curl -sS -i --max-time 30 --local-port "$c" \
		-x "http://127.0.0.1:$MAIN_PORT" \
		"http://127.0.0.1:$HTTP_PORT/index.html"
	[[ ${lines[0]} == "HTTP/1.1 405 Method Not Allowed"$'\r' ]] ||
		die "curl saw: $output"
	[[ $output == *"Allow: CONNECT"$'\r'* ]]
	[[ $output != *"$MARKER"* ]]
	has "$(record_of "$c" "$MAIN_LOG")" "<Reply> :Reject"
	[ "$(exit_of "$c" "$MAIN_LOG")" = 1 ]
	[ "$(grep -c 'GET /index.html' "$BATS_FILE_TMPDIR/http.log" || :)" \
		= "$hits" ]
}

@test "early data: the head and the payload in one write, 200 then the echo" {
	local c
	c=$(client_port)
	local t=127.0.0.2:$ECHO_PORT
	run -0 raw "$c" "$MAIN_PORT" \
		"CONNECT $t HTTP/1.1\r\nHost: $t\r\n\r\nearly bytes\n"
	[ "$output" = "$(hex "$GRANT")$(hex 'early bytes\n')" ] ||
		die "got $(xxd -r -p <<<"$output")"
	has "$(record_of "$c" "$MAIN_LOG")" "<Content> :early bytes\\n"
	session_ok "$c" "$MAIN_LOG"
}

@test "half-close: the client shuts its write side, the reply still comes" {
	# the after-eof peer answers only once the client's EOF has reached it
	run -0 timeout 30 "$PYTHON" - "$MAIN_PORT" "$AFTER_PORT" <<'PY'
import socket, sys
port, dport = int(sys.argv[1]), int(sys.argv[2])
c = socket.create_connection(("127.0.0.1", port), timeout=20)
c.sendall(b"CONNECT 127.0.0.2:%d HTTP/1.1\r\n\r\n" % dport)
head = b""
while not head.endswith(b"\r\n\r\n"):
    b = c.recv(1)
    assert b, head
    head += b
assert head == b"HTTP/1.1 200 Connection established\r\n\r\n", head
c.sendall(b"half " * 2000)
c.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    got += b
assert got == b"half " * 2000, len(got)
print("ok", len(got))
PY
	[ "$output" = "ok 10000" ]
}

@test "Chromium --proxy-server=http://: an HTTPS page through the tunnel" {
	local out=$BATS_TEST_TMPDIR/page.html off
	off=$(log_size "$MAIN_LOG")
	chromium_via "http://127.0.0.1:$MAIN_PORT" \
		"https://localhost:$HTTPS_PORT/index.html" "$out" \
		--ignore-certificate-errors
	grep -qF "$MARKER" "$out" || {
		tail -n 5 "$out.err"
		die "the page did not load through socks4d"
	}
	run -0 wait_recs "$MAIN_LOG" "$off" \
		"<D_PORT> :$HTTPS_PORT\|<D_NAME> :localhost\|$OK" 1
}

@test "ncat --proxy-type http to an echo peer" {
	local msg="ncat via http $RANDOM" off
	off=$(log_size "$MAIN_LOG")
	run -0 timeout 30 ncat --proxy "127.0.0.1:$MAIN_PORT" \
		--proxy-type http 127.0.0.2 "$ECHO_PORT" <<<"$msg"
	[ "$output" = "$msg" ]
	run -0 wait_recs "$MAIN_LOG" "$off" \
		"<D_PORT> :$ECHO_PORT\|$OK\|<Content> :$msg\\\\n$" 1
}

@test "proxychains4 'http 127.0.0.1 PORT' runs curl" {
	local conf=$BATS_TEST_TMPDIR/pc.conf off
	printf '%s\n' strict_chain quiet_mode 'tcp_read_time_out 15000' \
		'tcp_connect_time_out 8000' '[ProxyList]' \
		"http 127.0.0.1 $MAIN_PORT" >"$conf"
	off=$(log_size "$MAIN_LOG")
	run -0 timeout 60 proxychains4 -q -f "$conf" curl -sS --fail \
		--max-time 20 "http://127.0.0.1:$HTTP_PORT/bin.dat" \
		-o "$BATS_TEST_TMPDIR/bin.dat"
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/bin.dat")" \
		= "$(sha256sum <"$BATS_FILE_TMPDIR/www/bin.dat")" ]
	run -0 wait_recs "$MAIN_LOG" "$off" \
		"$LO\|<D_PORT> :$HTTP_PORT\|$OK\|<Content> :GET /bin\.dat " 1
	[ "${#lines[@]}" -eq 1 ]
}

@test "git clone over HTTPS (dumb protocol) through https_proxy" {
	local d=$BATS_TEST_TMPDIR off want
	git init -q "$d/src"
	echo "socks4d $RANDOM" >"$d/src/README"
	git -C "$d/src" add README
	git -C "$d/src" -c user.name=t -c user.email=t@localhost commit -qm one
	want=$(git -C "$d/src" rev-parse HEAD)
	rm -rf "$BATS_FILE_TMPDIR/tls/repo.git"
	git clone -q --bare "$d/src" "$BATS_FILE_TMPDIR/tls/repo.git"
	git -C "$BATS_FILE_TMPDIR/tls/repo.git" update-server-info
	off=$(log_size "$MAIN_LOG")
	run -0 env -u no_proxy -u NO_PROXY -u http_proxy -u HTTPS_PROXY \
		-u all_proxy -u ALL_PROXY \
		GIT_SSL_CAINFO="$BATS_FILE_TMPDIR/cert.pem" \
		https_proxy="http://127.0.0.1:$MAIN_PORT" \
		GIT_TERMINAL_PROMPT=0 timeout 60 git clone -q \
		"https://localhost:$HTTPS_PORT/repo.git" "$d/dst"
	[ "$(git -C "$d/dst" rev-parse HEAD)" = "$want" ]
	[ "$(cat "$d/dst/README")" = "$(cat "$d/src/README")" ]
	# it went through socks4d, by name
	run -0 wait_recs "$MAIN_LOG" "$off" \
		"$LO\|<D_PORT> :$HTTPS_PORT\|<D_NAME> :localhost\|$OK" 1
}

# run_syslogged PORT: socks4d as inetd runs it, no stderr (so syslog),
# /dev/log the stand-in's.
run_syslogged() {
	devlog_exec "$BATS_FILE_TMPDIR/dev" systemd-socket-activate -a \
		--inetd -l "127.0.0.1:$1" \
		sh -c 'exec "$0" "$@" 2>&-' "$SOCKS4D" \
		-c "$BATS_FILE_TMPDIR/main.conf" -u "$BATS_FILE_TMPDIR/none"
}

@test "syslog: the one-line record starts 'HTTP CONNECT'" {
	local why d=$BATS_FILE_TMPDIR/dev c pid want
	why=$(devlog_reason)
	[ -z "$why" ] || skip "$why"
	start_syslog "$d"
	serve SYS 127.0.0.1 "$BATS_FILE_TMPDIR/sys.out" run_syslogged
	c=$(client_port)
	run -0 raw "$c" "$SYS_PORT" \
		"CONNECT 127.0.0.2:$ECHO_PORT HTTP/1.1\r\n\r\nhello syslog\n"
	[ "$output" = "$(hex "$GRANT")$(hex 'hello syslog\n')" ]
	pid=$(conn_pid "$c" "$BATS_FILE_TMPDIR/sys.out")
	[ "$(exit_code "$pid" "$BATS_FILE_TMPDIR/sys.out" 20)" = 0 ]
	wait_for_log "$d/syslog.txt" "socks4d\[$pid\]: HTTP CONNECT" 20
	want=" socks4d[$pid]: HTTP CONNECT 127.0.0.1:$c -> 127.0.0.2:$ECHO_PORT"
	want+=' user "": Accept, content "hello syslog\n"'
	run -0 grep -F "socks4d[$pid]: HTTP CONNECT" "$d/syslog.txt"
	[[ $output == "<30>"*"$want" ]] || die "syslog line: $output"
	# a refusal too: "HTTP CONNECT ...: Reject (reason)"
	c=$(client_port)
	run -0 raw "$c" "$SYS_PORT" \
		"CONNECT 127.0.0.2:$TRAP_PORT HTTP/1.1\r\n\r\n"
	[[ $output == "$(hex 'HTTP/1.1 403 Forbidden\r\n')"* ]]
	pid=$(conn_pid "$c" "$BATS_FILE_TMPDIR/sys.out")
	wait_for_log "$d/syslog.txt" "socks4d\[$pid\]: HTTP CONNECT" 20
	want="socks4d[$pid]: HTTP CONNECT 127.0.0.1:$c -> 127.0.0.2:$TRAP_PORT"
	run -0 grep -F "$want" "$d/syslog.txt"
	[[ $output == *": Reject ("*"main.conf:1 denies"* ]] ||
		die "syslog line: $output"
	kill_pids "$SYS_PID"
	SYS_PID=
}

# a name rule matches only a request by name (socks.conf(5))
@test "socks.conf 'permit c localhost': by that name only, not by address" {
	local d=$BATS_TEST_TMPDIR c rec
	printf 'permit c localhost port %s\n' "$HTTP_PORT" >"$d/names.conf"
	NAMES_LOG=$d/names.log start_socks4d_as NAMES "$d/names.conf" \
		-u "$BATS_FILE_TMPDIR/none" -T 10 -C 5
	c=$(client_port)
	run through "$NAMES_PORT" "$c" -w '%{http_connect}\n' \
		"http://localhost:$HTTP_PORT/index.html"
	[ "$status" -eq 0 ] || die "by name: $output"
	[[ $output == *"$MARKER"* ]]
	[ "${lines[-1]}" = 200 ]
	has "$(record_of "$c" "$NAMES_LOG")" "<D_NAME> :localhost"
	# by address: the name rule does not match it
	c=$(client_port)
	run through "$NAMES_PORT" "$c" -w '%{http_connect}\n' \
		"http://127.0.0.1:$HTTP_PORT/index.html"
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" = 403 ] || die "by address: $output"
	rec=$(record_of "$c" "$NAMES_LOG")
	has "$rec" "<Reply> :Reject"
	grep -q '^<Reason> :no rule in .* matches$' <<<"$rec" ||
		die "reason: $rec"
	# another name
	c=$(client_port)
	run through "$NAMES_PORT" "$c" -w '%{http_connect}\n' \
		"http://localhost.localdomain:$HTTP_PORT/index.html"
	kill_pids "$NAMES_PID"
	NAMES_PID=
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" = 403 ] || die "another name: $output"
}
