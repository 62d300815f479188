#!/usr/bin/env bats
# Real clients through socks4d, all on loopback: headless Chromium (with
# socks.conf edited off and on again under a running server), proxychains4
# (curl, nc, and a chain through two socks4d), tnftp under Dante's socksify
# in passive mode, curl --socks4 and --socks4a.
#
# Destinations are on 127.0.0.2: Dante's library connects straight to
# anything on the proxy's own address (127.0.0.1), not through the proxy.
#
# Two SOCKS proxies in a row are chained with proxychains4, not curl:
# curl's --preproxy puts a SOCKS proxy in front of an HTTP(S) proxy only;
# given a SOCKS --proxy as well, curl 7.88 uses the preproxy alone and asks
# it for the destination itself.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=90
load test_helper

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www" "$d/ftp"
	export MARKER="socks4d page $RANDOM$RANDOM"
	printf '<html><head><title>t</title></head>%s\n' \
		"<body><p id=\"m\">$MARKER</p></body></html>" \
		>"$d/www/index.html"

	start_web LO 127.0.0.1 "$d/www"		# for SOCKS4a "localhost"
	start_web HTTP 127.0.0.2 "$d/www"
	start_echo 127.0.0.2
	start_ftpd 127.0.0.2 "$d/ftp"

	# MAIN serves most tests; the browser test edits CHROME's socks.conf;
	# HOP1 may reach nothing but HOP2.
	printf 'permit c 127.0.0.0/8\n' >"$d/main.conf"
	printf 'permit c 127.0.0.2\n' >"$d/chrome.conf"
	printf 'permit c 127.0.0.2\n' >"$d/hop2.conf"
	start_socks4d_as MAIN "$d/main.conf"
	start_socks4d_as CHROME "$d/chrome.conf"
	start_socks4d_as HOP2 "$d/hop2.conf"
	printf 'permit c 127.0.0.1 port %s\n' "$HOP2_PORT" >"$d/hop1.conf"
	start_socks4d_as HOP1 "$d/hop1.conf"
}

teardown_file() {
	kill_pids "${MAIN_PID:-}" "${CHROME_PID:-}" "${HOP1_PID:-}" \
		"${HOP2_PID:-}" \
		"${HTTP_PID:-}" "${LO_PID:-}" "${ECHO_PID:-}" "${FTP_PID:-}"
}

# chromium_get URL OUT: chromium_via the CHROME socks4d.
chromium_get() { chromium_via "socks4://127.0.0.1:$CHROME_PORT" "$@"; }

# page_loaded OUT: the test page is in OUT; if not, say what Chromium said.
page_loaded() {
	grep -qF "$MARKER" "$1" && return 0
	grep -v -e dbus -e 'unexpected operator' "$1.err" | tail -n 5
	die "the page did not load through socks4d"
}

# pc_conf FILE PORT...: a proxychains4 config for a strict chain through
# socks4d on each PORT in order.  There is no "localnet" line, so nothing,
# loopback included, goes around the proxies (localnet exclusions are
# opt-in); no proxy_dns, so the client resolves names itself (SOCKS4).
pc_conf() {
	local f=$1 p
	shift
	{
		printf '%s\n' strict_chain quiet_mode \
			'tcp_read_time_out 15000' \
			'tcp_connect_time_out 8000' '[ProxyList]'
		for p; do printf 'socks4 127.0.0.1 %s\n' "$p"; done
	} >"$f"
}

# then to permit again, no restart
@test "Chromium loads a page through socks4d; socks.conf edited to reject" {
	local conf=$BATS_FILE_TMPDIR/chrome.conf out=$BATS_TEST_TMPDIR url
	local off hits ok
	ok="<D_IP> :127\.0\.0\.2\|<D_PORT> :$HTTP_PORT\|<Command> :CONNECT\|"
	url="http://127.0.0.2:$HTTP_PORT/"

	# on
	off=$(log_size "$CHROME_LOG")
	chromium_get "$url" "$out/on1.html"
	page_loaded "$out/on1.html"
	run -0 wait_recs "$CHROME_LOG" "$off" \
		"$ok<Reply> :Accept\|<Content> :GET / HTTP/1\.1" 1

	# off: the same file, rewritten in place
	printf '# closed by the test\ndeny c 127.0.0.2\n' >"$conf"
	off=$(log_size "$CHROME_LOG")
	hits=$(grep -c '"GET / ' "$BATS_FILE_TMPDIR/http.log")
	chromium_get "$url" "$out/off.html"
	run ! grep -qF "$MARKER" "$out/off.html"
	grep -q 'net::ERR_SOCKS_CONNECTION_FAILED' "$out/off.html.err"
	run -0 wait_recs "$CHROME_LOG" "$off" \
		"$ok<Reply> :Reject\|<Reason> :$conf:2 denies\|<Content> :$" 1
	run ! grep -q '<Reply> :Accept' < <(log_since "$CHROME_LOG" "$off" |
		recs)
	# a rejected request never touches the destination
	[ "$(grep -c '"GET / ' "$BATS_FILE_TMPDIR/http.log")" -eq "$hits" ]

	# on again
	printf 'permit c 127.0.0.2\n' >"$conf"
	off=$(log_size "$CHROME_LOG")
	chromium_get "$url" "$out/on2.html"
	page_loaded "$out/on2.html"
	run -0 wait_recs "$CHROME_LOG" "$off" \
		"$ok<Reply> :Accept\|<Content> :GET / HTTP/1\.1" 1

	# one listener all along
	kill -0 "$CHROME_PID"
	[ "$(grep -c '^Listening on ' "$CHROME_LOG")" -eq 1 ]
}

@test "proxychains4 runs curl through socks4d (loopback included)" {
	local conf=$BATS_TEST_TMPDIR/pc.conf off
	pc_conf "$conf" "$MAIN_PORT"
	off=$(log_size "$MAIN_LOG")
	run -0 proxychains4 -q -f "$conf" curl -sS --fail --max-time 20 \
		"http://127.0.0.2:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]]
	local ere="<D_IP> :127\.0\.0\.2\|<D_PORT> :$HTTP_PORT\|"
	ere+="<Command> :CONNECT\|<Reply> :Accept\|"
	ere+="<Content> :GET / HTTP/1\.1\\\\r\\\\nHost: 127\.0\.0\.2:$HTTP_PORT"
	run -0 wait_recs "$MAIN_LOG" "$off" "$ere" 1
	[ "${#lines[@]}" -eq 1 ]
}

@test "proxychains4 runs nc, a plain TCP client, through socks4d" {
	local conf=$BATS_TEST_TMPDIR/pc.conf off msg="plain tcp $RANDOM"
	pc_conf "$conf" "$MAIN_PORT"
	off=$(log_size "$MAIN_LOG")
	run -0 timeout 20 proxychains4 -q -f "$conf" nc -N 127.0.0.2 \
		"$ECHO_PORT" <<<"$msg"
	[ "$output" = "$msg" ]
	local ere="<D_IP> :127\.0\.0\.2\|<D_PORT> :$ECHO_PORT\|"
	ere+="<Command> :CONNECT\|<Reply> :Accept\|<Content> :$msg\\\\n$"
	run -0 wait_recs "$MAIN_LOG" "$off" "$ere" 1
	local n=${#msg}
	ere="^socks4d\[[0-9]+\]: end: $((n + 1)) bytes to client,"
	ere+=" $((n + 1)) from client, .*, both sides closed$"
	run -0 wait_lines "$MAIN_LOG" "$off" "$ere" 1
}

# both log the hop
@test "proxychains4 chains two socks4d: the first may only reach the second" {
	local conf=$BATS_TEST_TMPDIR/pc.conf off1 off2
	# HOP1 alone cannot reach the page
	off1=$(log_size "$HOP1_LOG")
	run -97 curl -sS --max-time 20 --socks4 "127.0.0.1:$HOP1_PORT" \
		"http://127.0.0.2:$HTTP_PORT/"
	local ere="<D_IP> :127\.0\.0\.2\|<D_PORT> :$HTTP_PORT\|"
	run -0 wait_recs "$HOP1_LOG" "$off1" \
		"$ere<Command> :CONNECT\|<Reply> :Reject" 1

	pc_conf "$conf" "$HOP1_PORT" "$HOP2_PORT"
	off1=$(log_size "$HOP1_LOG") off2=$(log_size "$HOP2_LOG")
	run -0 proxychains4 -q -f "$conf" curl -sS --fail --max-time 20 \
		"http://127.0.0.2:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]]
	# HOP1 relayed the SOCKS4 request to HOP2 (it begins \x04\x01) ...
	ere="<D_IP> :127\.0\.0\.1\|<D_PORT> :$HOP2_PORT\|<Command> :CONNECT"
	run -0 wait_recs "$HOP1_LOG" "$off1" \
		"$ere\|<Reply> :Accept\|<Content> :\\\\x04\\\\x01" 1
	# ... and HOP2, reached from HOP1, connected to the page
	ere="<S_IP> :127\.0\.0\.1\|.*<D_IP> :127\.0\.0\.2\|<D_PORT> :$HTTP_PORT"
	run -0 wait_recs "$HOP2_LOG" "$off2" \
		"$ere\|<Command> :CONNECT\|<Reply> :Accept\|<Content> :GET / " 1
}

# files byte-identical
@test "socksify ftp in passive mode (EPSV, then PASV): CONNECTs only" {
	local d=$BATS_TEST_TMPDIR off size=$((2 << 20))
	printf 'route {\n\t%s port = %s\n\t%s\n\t%s\n}\n' \
		'from: 0.0.0.0/0 to: 0.0.0.0/0 via: 127.0.0.1' "$MAIN_PORT" \
		'proxyprotocol: socks_v4' 'command: connect' >"$d/dante.conf"
	head -c "$size" /dev/urandom >"$d/up.bin"
	off=$(log_size "$MAIN_LOG")
	# SOCKS_AUTOADD_LANROUTES=no: the control connection goes through
	# socks4d too, not only the data connections.
	run env HOME="$d" SOCKS_CONF="$d/dante.conf" \
		SOCKS_AUTOADD_LANROUTES=no \
		timeout 60 socksify ftp -n -v -p 127.0.0.2 "$FTP_PORT" \
		< <(printf '%s\n' 'user tester secret' binary \
			"put $d/up.bin up.bin" 'epsv4 off' \
			"get up.bin $d/down.bin" quit)
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"229 Entering extended passive mode"* ]]
	[[ $output == *"227 Entering passive mode (127,0,0,2,"* ]]
	[ "$(grep -c '^226 Transfer complete' <<<"$output")" -eq 2 ]
	[ "$(sha256sum <"$BATS_FILE_TMPDIR/ftp/up.bin")" \
		= "$(sha256sum <"$d/up.bin")" ]
	[ "$(sha256sum <"$d/down.bin")" = "$(sha256sum <"$d/up.bin")" ]

	# control, then one data connection each way, all CONNECTs to 127.0.0.2
	run -0 wait_recs "$MAIN_LOG" "$off" \
		"<D_PORT> :$FTP_PORT\|<Command> :CONNECT\|<Reply> :Accept" 1
	local ere="<D_IP> :127\.0\.0\.2\|<D_PORT> :[0-9]+\|<Command> :CONNECT"
	run -0 wait_recs "$MAIN_LOG" "$off" "$ere\|<Reply> :Accept" 3
	[ "${#lines[@]}" -eq 3 ]
	run ! grep -q '<Command> :BIND' < <(log_since "$MAIN_LOG" "$off" | recs)
	local closed=".*, both sides closed"
	run -0 wait_lines "$MAIN_LOG" "$off" \
		"end: 0 bytes to client, $size from client, $closed" 1
	run -0 wait_lines "$MAIN_LOG" "$off" \
		"end: $size bytes to client, 0 from client, $closed" 1
}

# for 4a socks4d resolves the name
@test "curl --socks4 and --socks4a through socks4d" {
	local c1 c2 ere
	c1=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$c1" \
		--socks4 "127.0.0.1:$MAIN_PORT" "http://127.0.0.2:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]]
	ere="^<S_IP> :127\.0\.0\.1\|<S_PORT> :$c1\|<D_IP> :127\.0\.0\.2\|"
	ere+="<D_PORT> :$HTTP_PORT\|<Command> :CONNECT\|<Reply> :Accept\|"
	run -0 wait_recs "$MAIN_LOG" 0 "$ere" 1

	c2=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$c2" \
		--socks4a "127.0.0.1:$MAIN_PORT" "http://localhost:$LO_PORT/"
	[[ $output == *"$MARKER"* ]]
	ere="^<S_IP> :127\.0\.0\.1\|<S_PORT> :$c2\|<D_IP> :127\.0\.0\.1\|"
	ere+="<D_PORT> :$LO_PORT\|<D_NAME> :localhost\|<Command> :CONNECT\|"
	ere+="<Reply> :Accept\|"
	run -0 wait_recs "$MAIN_LOG" 0 "$ere" 1
}
