#!/usr/bin/env bats
# Under systemd, stderr is the journal (JOURNAL_STREAM names it): the record
# goes to the journal as one line with SOCKS_* fields, through journald's
# native protocol. The test stands in for journald with its own datagram
# socket at /run/systemd/journal/socket, in a mount namespace of its own.
# SPDX-License-Identifier: ISC
load test_helper
bats_require_minimum_version 1.5.0

setup_file() {
	mkdir -p "$BATS_FILE_TMPDIR/www"
	head -c 5000 /dev/urandom > "$BATS_FILE_TMPDIR/www/blob"
	start_http 127.0.0.2 "$BATS_FILE_TMPDIR/www"
	start_peer UECHO udp-echo 127.0.0.2
	start_peer HALF halfclose 127.0.0.2 --bytes 0
	start_peer ECHO echo 127.0.0.2
	printf 'permit c 127.0.0.2\npermit u 127.0.0.2\n' \
		> "$BATS_FILE_TMPDIR/socks.conf"
}

teardown_file() {
	stop_http
	kill_pids "${UECHO_PID:-}" "${HALF_PID:-}" "${ECHO_PID:-}"
}

teardown() {
	[ -n "${SA_PID:-}" ] && kill "$SA_PID" 2>/dev/null
	[ -z "${CONFDIR:-}" ] || rm -rf "$CONFDIR"
	[ -s "$BATS_TEST_TMPDIR/journald.pid" ] &&
		kill "$(cat "$BATS_TEST_TMPDIR/journald.pid")" 2>/dev/null
	return 0
}

# start_under_journal yes|no [ARG...]: socks4d (with ARGs) under
# systemd-socket-activate in a
# mount namespace with stderr a file named by JOURNAL_STREAM, and with (yes)
# or without (no) a stand-in journald that writes each datagram it gets to
# $BATS_TEST_TMPDIR/journal.  With LISTENER_CONF, socks4d -l instead, with
# that socks.conf (its sessions read it as nobody).
start_under_journal() {
	local d=$BATS_TEST_TMPDIR serve
	SA_PORT=$(free_port)
	serve="systemd-socket-activate -E JOURNAL_STREAM -a --inetd"
	serve+=" -l 127.0.0.1:$SA_PORT $SOCKS4D -c $BATS_FILE_TMPDIR/socks.conf"
	[ -z "${LISTENER_CONF:-}" ] ||
		serve="$SOCKS4D -c $LISTENER_CONF -l 127.0.0.1:$SA_PORT"
	cat > "$d/run.sh" <<SH
mount -t tmpfs tmpfs /run/systemd 2>/dev/null ||
	{ mkdir -p /run/systemd && mount -t tmpfs tmpfs /run/systemd; }
if [ $1 = yes ]; then
	mkdir -p /run/systemd/journal
	"$PYTHON" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
os.chmod("/run/systemd/journal/socket", 0o666)   # socks4d runs as nobody
open(sys.argv[1] + ".pid", "w").write(str(os.getpid()))
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n--\n")
' "$d/journal" &
	for i in \$(seq 100); do
		[ -s "$d/journal.pid" ] && break
		sleep 0.05
	done
	mv "$d/journal.pid" "$d/journald.pid"
fi
: > "$d/stderr"
exec 2>>"$d/stderr"
export JOURNAL_STREAM=\$(stat -c %d:%i "$d/stderr")
exec $serve ${*:2}
SH
	unshare -m bash "$d/run.sh" 3>&- &
	SA_PID=$!
	wait_for_port 127.0.0.1 "$SA_PORT"
}

@test "journal: the record and the end line carry SOCKS_* fields" {
	start_under_journal yes
	curl -sS --socks4 "127.0.0.1:$SA_PORT" -o "$BATS_TEST_TMPDIR/blob" \
		"http://127.0.0.2:$HTTP_PORT/blob"
	run ! curl -sS --socks4 "127.0.0.1:$SA_PORT" \
		"http://127.0.0.3:$HTTP_PORT/"
	j=$BATS_TEST_TMPDIR/journal
	wait_for_log "$j" '^SOCKS_REPLY=Reject$'
	cat "$j"
	cmp "$BATS_TEST_TMPDIR/blob" "$BATS_FILE_TMPDIR/www/blob"
	grep -q '^SOCKS_COMMAND=CONNECT$' "$j"
	grep -q "^SOCKS_DST=127.0.0.2:$HTTP_PORT\$" "$j"
	grep -q '^SOCKS_REPLY=Accept$' "$j"
	grep -q '^SOCKS_CONTENT=GET /blob HTTP/1.1\\r\\nHost' "$j"
	grep -q '^SOCKS_END=both sides closed$' "$j"
	grep -q '^SOCKS_BYTES_IN=[1-9]' "$j"
	# the body alone is 5000 bytes, so the client got more than that
	out=$(grep '^SOCKS_BYTES_OUT=' "$j" | sort -t= -k2 -n | tail -1 |
		cut -d= -f2)
	[ "$out" -gt 5000 ]
	grep -q "^SOCKS_DST=127.0.0.3:$HTTP_PORT\$" "$j"
	grep -q '^SOCKS_REASON=no rule in .* matches$' "$j"
	grep -q '^MESSAGE=CONNECT 127.0.0.1:[0-9]* -> 127.0.0.2:' "$j"
	# the journal took it all: nothing of the record fell back to stderr
	! grep -q 'CONNECT\|<S_IP>' "$BATS_TEST_TMPDIR/stderr" ||
		die "matched, and should not have"
}

# stderr is journald's stream then: a line carries its priority, and
# journald adds the name and PID (a name of socks4d's own would show twice).
@test "journal: without a journal socket the record falls back to stderr" {
	start_under_journal no
	curl -sS --socks4 "127.0.0.1:$SA_PORT" -o /dev/null \
		"http://127.0.0.2:$HTTP_PORT/blob"
	wait_for_log "$BATS_TEST_TMPDIR/stderr" "end: "
	cat "$BATS_TEST_TMPDIR/stderr"
	local re="^<6>CONNECT 127.0.0.1:[0-9]* -> 127.0.0.2:$HTTP_PORT"
	grep -q "$re user \"\": Accept, content \"GET /blob" \
		"$BATS_TEST_TMPDIR/stderr"
	grep -q "^<6>end: " "$BATS_TEST_TMPDIR/stderr"
	! grep -q 'socks4d\[' "$BATS_TEST_TMPDIR/stderr" ||
		die "matched, and should not have"
	! grep -q '<S_IP>' "$BATS_TEST_TMPDIR/stderr" ||
		die "matched, and should not have"
}

@test "journal: a SOCKS5 login adds SOCKS_VERSION=5 and SOCKS_USER" {
	printf 'alice:%s\n' "$(openssl passwd -6 wonderland)" \
		> "$BATS_TEST_TMPDIR/socks.passwd"
	start_under_journal yes -u "$BATS_TEST_TMPDIR/socks.passwd"
	run -0 curl -sS --proxy-user alice:wonderland \
		--socks5 "127.0.0.1:$SA_PORT" \
		-o "$BATS_TEST_TMPDIR/blob" "http://127.0.0.2:$HTTP_PORT/blob"
	j=$BATS_TEST_TMPDIR/journal
	wait_for_log "$j" '^SOCKS_END='
	grep -q '^SOCKS_VERSION=5$' "$j"
	grep -q '^SOCKS_USER=alice$' "$j"
	run ! grep -q wonderland "$j"
}

@test "journal: an HTTP CONNECT logs SOCKS_VERSION=HTTP, 'HTTP CONNECT ...'" {
	printf 'alice:%s\n' "$(openssl passwd -6 wonderland)" \
		> "$BATS_TEST_TMPDIR/socks.passwd"
	start_under_journal yes -u "$BATS_TEST_TMPDIR/socks.passwd"
	run -0 curl -sS --max-time 30 --proxy-user alice:wonderland -p \
		-x "http://127.0.0.1:$SA_PORT" \
		-o "$BATS_TEST_TMPDIR/blob" "http://127.0.0.2:$HTTP_PORT/blob"
	cmp "$BATS_TEST_TMPDIR/blob" "$BATS_FILE_TMPDIR/www/blob"
	j=$BATS_TEST_TMPDIR/journal
	wait_for_log "$j" '^SOCKS_END=' 20
	grep -q '^SOCKS_VERSION=HTTP$' "$j"
	grep -q '^SOCKS_USER=alice$' "$j"
	grep -q '^SOCKS_COMMAND=CONNECT$' "$j"
	grep -q "^SOCKS_DST=127.0.0.2:$HTTP_PORT\$" "$j"
	grep -q "^MESSAGE=HTTP CONNECT 127.0.0.1:[0-9]* -> 127.0.0.2:$HTTP_PORT" \
		"$j"
	run ! grep -q wonderland "$j"
}

# record and end line; a longer one has its record a second after its first
# bytes, its end line at the end
@test "journal: a session that ends within a second is one entry" {
	start_under_journal yes
	j=$BATS_TEST_TMPDIR/journal
	# The destination half-closes at once, and the client sends its bytes
	# only once that has reached it, its half-close right behind them: the
	# session ends moments after its first bytes, not a second, however
	# busy the machine.
	printf 'GET /blob HTTP/1.1\r\nHost: one\r\n\r\n' |
		$CLIENT --after-eof "$SA_PORT" 127.0.0.2 "$HALF_PORT" >/dev/null
	wait_for_log "$j" '^SOCKS_END='
	cat "$j"
	grep -q '^SOCKS_CONTENT=GET /blob' "$j"
	local re='^MESSAGE=CONNECT 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.2:[0-9]+'
	re+=' user "": Accept, content "GET /blob .*";'
	re+=' end: [0-9]+ bytes to client, [0-9]+ from client, [0-9.]+ s,'
	re+=' both sides closed$'
	grep -qE "$re" "$j" ||
		die "no entry with both"
	[ "$(grep -cE '^MESSAGE=(CONNECT|end:) ' "$j")" = 1 ] ||
		die "not one entry"
	: >"$j"
	{ printf 'GET / HTTP/1.1\r\nHost: slow\r\n'; sleep 6; } |
		"$PYTHON" "$BATS_TEST_DIRNAME/socks4_client.py" "$SA_PORT" \
		127.0.0.2 "$HTTP_PORT" >/dev/null 2>&1 &
	local client=$!
	wait_for_log "$j" '^SOCKS_CONTENT=GET / HTTP' 10
	kill -0 "$client" 2>/dev/null || die "the record came only at the end"
	! grep -q '^SOCKS_END=' "$j" || die "an end before the end"
	wait "$client" || true
	wait_for_log "$j" '^SOCKS_END=' 10
	cat "$j"
	[ "$(grep -cE '^MESSAGE=(CONNECT|end:) ' "$j")" = 2 ] ||
		die "not two entries"
	grep -q '^MESSAGE=end: [0-9]* bytes to client, ' "$j"
}

# echoing CLIENT_OUT HOST: a client to the echo peer sends a request for
# HOST, then waits 4 s; once its bytes come back, its session has relayed
# its first bytes and holds its record.  Sets CLIENT.
echoing() {
	{ printf 'GET / HTTP/1.1\r\nHost: %s\r\n' "$2"; sleep 4; } |
		"$PYTHON" "$BATS_TEST_DIRNAME/socks4_client.py" "$SA_PORT" \
		127.0.0.2 "$ECHO_PORT" >"$1" 2>&1 &
	CLIENT=$!
	wait_cmd 10 "nothing echoed" grep -q "Host: $2" "$1"
}

# ended PID: PID is gone, or a zombie.
ended() { [ ! -e "/proc/$1" ] ||
	[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# (SIGTERM): the record and the end line are out before it ends
@test "journal: a session stopped while its record is held" {
	start_under_journal yes
	j=$BATS_TEST_TMPDIR/journal
	echoing "$BATS_TEST_TMPDIR/out" stop
	local session
	session=$(pgrep -P "$SA_PID" -x socks4d)
	kill -TERM "$session"
	wait_for_log "$j" '^SOCKS_END=stopped by a signal$' 5
	wait_cmd 5 "the session outlived its record" ended "$session"
	grep -q '^SOCKS_CONTENT=GET / HTTP/1.1\\r\\nHost: stop\\r\\n$' "$j" ||
		die "no record: $(cat "$j")"
	kill "$CLIENT" 2>/dev/null
	wait "$CLIENT" 2>/dev/null || true
}

# while the association lasts
@test "journal: a UDP association's record goes out at its first datagram" {
	start_under_journal yes
	j=$BATS_TEST_TMPDIR/journal
	"$PYTHON" - "$SA_PORT" "$UECHO_PORT" 3 <<'PY' &
import os, socket, sys, time
port, echo, linger = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
exec(os.environ["S5_GREETED"])
c.sendall(b"\x05\x03\x00\x01" + bytes(6))
r = read(c, 10)
assert r[1] == 0, r.hex()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(10)
u.sendto(b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.2")
         + echo.to_bytes(2, "big") + b"hello-udp",
         (socket.inet_ntoa(r[4:8]), int.from_bytes(r[8:10], "big")))
u.recv(100)
time.sleep(linger)
PY
	local client=$!
	wait_for_log "$j" '^SOCKS_CONTENT=hello-udp$' 10
	kill -0 "$client" 2>/dev/null || die "the record came only at the end"
	! grep -q '^SOCKS_END=' "$j" || die "an end before the end"
	wait "$client"
	wait_for_log "$j" '^SOCKS_END=' 10
	cat "$j"
}

# a session holding its record puts it out, then ends
@test "journal: a listener stopped with -g 0 sends SIGTERM first" {
	CONFDIR=$(mktemp -d /tmp/socks4d-journal.XXXXXX)
	chmod 755 "$CONFDIR"
	install -m 644 "$BATS_FILE_TMPDIR/socks.conf" "$CONFDIR/socks.conf"
	LISTENER_CONF=$CONFDIR/socks.conf start_under_journal yes -g 0
	j=$BATS_TEST_TMPDIR/journal
	echoing "$BATS_TEST_TMPDIR/out" drain
	kill -TERM "$SA_PID"
	wait_for_log "$j" '^SOCKS_CONTENT=GET / HTTP/1.1\\r\\nHost: drain' 5
	wait_for_log "$j" '^SOCKS_END=stopped by a signal$' 5
	wait_for_log "$BATS_TEST_TMPDIR/stderr" 'stopped: killed 1 sessions' 5
	kill "$CLIENT" 2>/dev/null
	wait "$CLIENT" 2>/dev/null || true
}

# behind a balancer (-P): the client its PROXY header names, and the
# balancer beside it
@test "journal: a client behind a balancer, SOCKS_SRC and SOCKS_VIA" {
	start_under_journal yes -P 127.0.0.1
	run -0 "$PYTHON" - "$SA_PORT" "$ECHO_PORT" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
body = (socket.inet_aton("198.51.100.7") + socket.inet_aton("127.0.0.1")
        + struct.pack(">HH", 40123, 1080))
s.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack(">H", len(body))
          + body + b"\x04\x01" + struct.pack(">H", int(sys.argv[2]))
          + b"\x7f\x00\x00\x02\x00hi")
s.shutdown(socket.SHUT_WR)
r = b""
while len(r) < 8 and (more := s.recv(8 - len(r))):
    r += more
print(s.getsockname()[1], r.hex())
PY
	local balancer=${output%% *} j=$BATS_TEST_TMPDIR/journal
	[ "${output#* }" = "005a$(hex4 "$ECHO_PORT")7f000002" ]
	wait_for_log "$j" '^SOCKS_END='
	cat "$j"
	grep -q '^SOCKS_SRC=198.51.100.7:40123$' "$j"
	grep -q "^SOCKS_VIA=127.0.0.1:$balancer\$" "$j"
	grep -q "^MESSAGE=CONNECT 198.51.100.7:40123 via 127.0.0.1:$balancer\
 -> 127.0.0.2:$ECHO_PORT " "$j"
}
