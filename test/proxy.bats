#!/usr/bin/env bats
# The PROXY protocol from a balancer (-P): the client its header names is
# the session's client (the rules' "from", <S_IP>/<S_PORT>), the balancer
# is kept as <Via>; the bytes behind the header are the request and the
# client's data; a health check (v2 LOCAL, v1 UNKNOWN) is refused in its
# protocol and leaves no record; a balancer that sends no header is
# refused; anyone else's header is not SOCKS; a malformed or slow header
# is abandoned with its reason.  The balancer is 127.0.0.1; headers are
# made by hand.  socks4d runs under systemd-socket-activate, as the
# Accept=yes units run it, and as a listener (-l).
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=120
load test_helper

# Only the clients the headers name are permitted, never the balancer.
setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	export FILES
	FILES=$(mktemp -d /tmp/socks4d-proxy.XXXXXX)
	chmod 755 "$FILES"
	export CONF=$FILES/socks.conf
	printf '%s\n' 'permit c 127.0.0.2 from 198.51.100.7' \
		'permit c 127.0.0.2 from 2001:db8::7' \
		'permit u 127.0.0.2 from 127.0.0.5' >"$CONF"
	chmod 644 "$CONF"
	start_peer ECHO echo 127.0.0.2
	start_peer UECHO udp-echo 127.0.0.2
	# 127.0.0.0/31: the balancer, 127.0.0.1, but not 127.0.0.3
	start_socks4d "$CONF" -P 10.9.0.0/16 -P 127.0.0.0/31 -T 4
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "${ECHO_PID:-}" "${UECHO_PID:-}"
	rm -rf "$FILES"
}

teardown() {
	[ -z "${L_PID:-}" ] || kill_pids "$L_PID"
	[ -z "${MAPPED_PID:-}" ] || kill_pids "$MAPPED_PID"
	[ -z "${LOGIN_PID:-}" ] || kill_pids "$LOGIN_PID"
	no_sanitizer_reports "$SOCKS_LOG"
	no_crash "$SOCKS_LOG"
}

# proxied KIND CLIENT CPORT REQUEST [BYTES [REPLY_LEN]]: a connection to
# socks4d ($HOST, default 127.0.0.1, port $PORT, default $SOCKS_PORT) from
# $FROM (default 127.0.0.1) that sends, in one write, a PROXY header of
# KIND naming the client CLIENT:CPORT, the hex REQUEST, and BYTES random
# bytes; then half-closes.  KIND: v1, v2, v2tlv (with a TLV), unknown,
# local, none, or hex:HEX (those bytes).  Prints "from PORT" (its own
# port), "reply HEX" (all it got, or with BYTES its first REPLY_LEN
# bytes) and with BYTES "echo same" if the rest is what it sent.
proxied() {
	"$PYTHON" - "$@" <<'PY'
import hashlib, os, socket, struct, sys, threading
kind, client, cport, req = sys.argv[1:5]
n = int(sys.argv[5]) if len(sys.argv) > 5 else 0
rlen = int(sys.argv[6]) if len(sys.argv) > 6 else 0
host = os.environ.get("HOST", "127.0.0.1")
port = int(os.environ.get("PORT") or os.environ["SOCKS_PORT"])
src = os.environ.get("FROM", "127.0.0.1")

def header():
    six = ":" in client
    af = socket.AF_INET6 if six else socket.AF_INET
    dst = "::1" if six else "127.0.0.1"
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    if kind == "none":
        return b""
    if kind.startswith("hex:"):
        return bytes.fromhex(kind[4:])
    if kind == "v1":
        return ("PROXY %s %s %s %s 1080\r\n" % ("TCP6" if six else "TCP4",
                client, dst, cport)).encode()
    if kind == "unknown":
        return b"PROXY UNKNOWN\r\n"
    if kind == "local":
        return sig + b"\x20\x00\x00\x00"
    body = (socket.inet_pton(af, client) + socket.inet_pton(af, dst)
            + struct.pack(">HH", int(cport), 1080))
    if kind == "v2tlv":
        body += b"\x04\x00\x05hello"     # PP2_TYPE_NOOP
    return (sig + bytes([0x21, 0x21 if six else 0x11])
            + struct.pack(">H", len(body)) + body)

data = os.urandom(n)
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.bind((src, 0))
s.settimeout(20)
s.connect((host, port))
print("from", s.getsockname()[1], flush=True)

def send():
    try:
        s.sendall(header() + bytes.fromhex(req) + data)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass

t = threading.Thread(target=send)
t.start()
got = b""
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        got += c
except OSError as e:
    print("error", e)
t.join()
print("reply", (got[:rlen] if n else got).hex())
if n:
    same = hashlib.sha256(got[rlen:]).digest() == hashlib.sha256(data).digest()
    print("echo", "same" if same else
          "differs: %d bytes of %d" % (len(got) - rlen, len(data)))
PY
}

# s4 PORT: a SOCKS4 CONNECT to 127.0.0.2:PORT, hex; s5 PORT: SOCKS5's
# greeting (no login) and CONNECT to 127.0.0.2:PORT, hex.
s4() { printf '0401%04x7f00000200' "$1"; }
s5() { printf '050100050100017f000002%04x' "$1"; }

# field NAME: the value of <NAME> in the record on stdin.
field() { sed -n "s/^<$1> :\(.*\)/\1/p"; }

# from_port, replied: proxied's port and what it got, from $output.
from_port() { sed -n 's/^from //p' <<<"$output"; }
replied() { sed -n 's/^reply //p' <<<"$output"; }

# no_record_since OFFSET: the log has no record after OFFSET.
no_record_since() {
	! log_since "$SOCKS_LOG" "$1" | grep -q '^<S_IP> :' ||
		die "a record: $(log_since "$SOCKS_LOG" "$1" | recs)"
}

@test "v1 TCP4: the client it names is judged by 'from' and recorded" {
	local cp=$((40000 + RANDOM % 1000)) rec
	run -0 proxied v1 198.51.100.7 "$cp" "$(s4 "$ECHO_PORT")"
	[[ "$output" == *"reply 005a$(hex4 "$ECHO_PORT")7f000002"* ]] ||
		die "$output"
	balancer=$(from_port)
	rec=$(record_of "$cp")
	echo "$rec"
	[ "$(field S_IP <<<"$rec")" = 198.51.100.7 ]
	[ "$(field Via <<<"$rec")" = "127.0.0.1:$balancer" ]
	[ "$(field Reply <<<"$rec")" = Accept ]
	# another client of the same balancer: no rule permits it
	run -0 proxied v1 198.51.100.8 "$cp" "$(s4 "$ECHO_PORT")"
	[[ "$output" == *"reply 005b$(hex4 "$ECHO_PORT")7f000002"* ]] ||
		die "$output"
	rec=$(wait_recs "$SOCKS_LOG" 0 '<S_IP> :198.51.100.8\|' 1)
	[[ "$rec" == *"<Via> :127.0.0.1:"*"|<Reason> :no rule in "* ]] ||
		die "$rec"
}

@test "v2 TCP4 in one segment with a SOCKS4 request and data: relayed" {
	local cp=$((41000 + RANDOM % 1000)) rec
	run -0 proxied v2 198.51.100.7 "$cp" "$(s4 "$ECHO_PORT")" 300000 8
	echo "$output"
	[[ "$output" == *"reply 005a$(hex4 "$ECHO_PORT")7f000002"* ]]
	[[ "$output" == *"echo same"* ]]
	rec=$(record_of "$cp")
	[ "$(field S_IP <<<"$rec")" = 198.51.100.7 ]
	[ "$(field S_PORT <<<"$rec")" = "$cp" ]
	[ "$(field Via <<<"$rec")" = "127.0.0.1:$(from_port)" ]
	run -0 end_line "$(conn_pid "$(from_port)")"
	[[ "$output" == *"300000 bytes to client, 300000 from client"* ]]
}

@test "v2 TCP6 with a TLV, v1 TCP6: SOCKS5 relays for the IPv6 client" {
	local kind cp rec
	for kind in v2tlv v1; do
		cp=$((42000 + RANDOM % 1000))
		run -0 proxied "$kind" 2001:db8::7 "$cp" "$(s5 "$ECHO_PORT")" \
			100000 12
		echo "$output"
		[[ "$output" == *"reply 0500050000017f000001"* ]]
		[[ "$output" == *"echo same"* ]]
		rec=$(record_of "$cp")
		[ "$(field S_IP <<<"$rec")" = 2001:db8::7 ]
		[ "$(field Via <<<"$rec")" = "127.0.0.1:$(from_port)" ]
		[ "$(field Version <<<"$rec")" = 5 ]
	done
}

# The client's datagrams come to this host straight, not through the
# balancer: they are taken from the client the header named, not from it.
@test "UDP ASSOCIATE: datagrams from the client the header named" {
	run -0 "$PYTHON" - "$SOCKS_PORT" "$UECHO_PORT" <<'PY'
import socket, struct, sys
port, echo = int(sys.argv[1]), int(sys.argv[2])
body = (socket.inet_aton("127.0.0.5") + socket.inet_aton("127.0.0.1")
        + struct.pack(">HH", 40777, 1080))
c = socket.create_connection(("127.0.0.1", port), timeout=10)
c.sendall(b"\r\n\r\n\x00\r\nQUIT\n\x21\x11" + struct.pack(">H", len(body))
          + body + b"\x05\x01\x00" + b"\x05\x03\x00\x01" + bytes(6))
r = b""
while len(r) < 12 and (more := c.recv(12 - len(r))):
    r += more
print("reply", r.hex())
relay = (socket.inet_ntoa(r[6:10]), int.from_bytes(r[10:12], "big"))
datagram = (b"\0\0\0\x01" + socket.inet_aton("127.0.0.2")
            + struct.pack(">H", echo))
for src in ("127.0.0.1", "127.0.0.5"):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((src, 0))
    u.settimeout(3)
    u.sendto(datagram + b"from " + src.encode(), relay)
    try:
        print(src, "got", u.recv(100)[10:].decode())
    except socket.timeout:
        print(src, "got nothing")
c.close()
PY
	echo "$output"
	[[ "$output" == *"reply 0500050000017f000001"* ]]
	[[ "$output" == *"127.0.0.1 got nothing"* ]]
	[[ "$output" == *"127.0.0.5 got from 127.0.0.5"* ]]
	[[ "$(record_of 40777 | field Via)" == 127.0.0.1:* ]]
	wait_for_log "$SOCKS_LOG" \
		'end: .*datagrams: 1 to client, 1 from client, 1 dropped'
}

# the listener would count an exit 3 against the balancer: one stranger's
# wrong passwords would bring all its clients a penalty
@test "a failed login from behind the balancer exits 1, not 3 (no penalty)" {
	local log=$BATS_TEST_TMPDIR/login.log login
	users_file "$FILES/users" alice secret
	login=01$(printf '%02x' 5)$(hex alice)$(printf '%02x' 5)$(hex wrong)
	LOGIN_LOG=$log start_socks4d_as LOGIN "$CONF" \
		-P 127.0.0.0/31 -u "$FILES/users"
	PORT=$LOGIN_PORT run -0 proxied v1 198.51.100.7 40999 "050102$login"
	[[ "$output" == *"reply 05020101"* ]] || die "$output"
	run -0 exit_code "$(conn_pid "$(from_port)" "$log")" "$log"
	[ "$output" = 1 ] || die "exit $output"
	# the same login straight from a client (not the balancer): 3
	FROM=127.0.0.3 PORT=$LOGIN_PORT run -0 proxied none - 0 "050102$login"
	[[ "$output" == *"reply 05020101"* ]] || die "$output"
	wait_for_log "$log" 'died with code 3'
}

# HAProxy's check-send-proxy: a LOCAL header, then nothing or a request
@test "health checks (v2 LOCAL, v1 UNKNOWN): refused, exit 0, no record" {
	local off pid
	off=$(log_size "$SOCKS_LOG")
	run -0 proxied local - 0 "$(s4 "$ECHO_PORT")"
	[[ "$output" == *"reply 005b$(hex4 "$ECHO_PORT")7f000002"* ]]
	pid=$(conn_pid "$(from_port)")
	run -0 exit_code "$pid"
	[ "$output" = 0 ]
	run -0 proxied unknown - 0 '050100'
	[[ "$output" == *"reply 05ff"* ]]
	run -0 exit_code "$(conn_pid "$(from_port)")"
	[ "$output" = 0 ]
	# a bare check: the header, then the close
	run -0 proxied local - 0 ''
	[ -z "$(replied)" ]
	run -0 exit_code "$(conn_pid "$(from_port)")"
	[ "$output" = 0 ]
	no_record_since "$off"
}

@test "from the balancer without a header: refused in its protocol" {
	local why='no PROXY header from this balancer, which -P says sends one'
	run -0 proxied none - 0 "$(s4 "$ECHO_PORT")"
	[[ "$output" == *"reply 005b"* ]] || die "$output"
	[ "$(record_of "$(from_port)" | field Reason)" = "$why" ]
	run -0 exit_code "$(conn_pid "$(from_port)")"
	[ "$output" = 1 ]
	run -0 proxied none - 0 "$(s5 "$ECHO_PORT")"
	[[ "$output" == *"reply 05ff"* ]] || die "$output"
	[ "$(record_of "$(from_port)" | field Reason)" = "$why" ]
	# not SOCKS: no reply
	run -0 proxied none - 0 "$(hex 'GET / HTTP/1.0\r\n\r\n')"
	[ -z "$(replied)" ]
	[ "$(record_of "$(from_port)" | field Reason)" = "$why" ]
}

@test "a header from a sender -P does not name: not SOCKS, abandoned" {
	local rec
	local why='not SOCKS but a PROXY header, from a sender -P does not name'
	FROM=127.0.0.3 run -0 proxied v1 198.51.100.7 40999 \
		"$(s4 "$ECHO_PORT")"
	[ -z "$(replied)" ]
	rec=$(record_of "$(from_port)")
	echo "$rec"
	[ "$(field S_IP <<<"$rec")" = 127.0.0.3 ]
	[ "$(field Reply <<<"$rec")" = Reject ]
	[ "$(field Reason <<<"$rec")" = "$why" ]
	if grep -q '^<Via>' <<<"$rec"; then die "a <Via> line: $rec"; fi
	FROM=127.0.0.3 run -0 proxied v2 198.51.100.7 40999 \
		"$(s4 "$ECHO_PORT")"
	[ -z "$(replied)" ]
	[ "$(record_of "$(from_port)" | field Reason)" = "$why" ]
	# what is not a header (nor SOCKS, nor HTTP) is as malformed as ever
	FROM=127.0.0.3 run -0 proxied hex:707278 - 0 ''
	[ "$(record_of "$(from_port)" | field Reason)" = "version is not 4" ]
}

# table: the header's bytes (hex) | the record's reason, after "PROXY "
@test "a malformed header from the balancer: abandoned with its reason" {
	local sig=0d0a0d0a000d0a515549540a hdr why rec v1 f
	local shape='v1 header is not PROXY TCP4|TCP6 SRC DST SPORT DPORT'
	v1() { hex "PROXY $1\r\n"; }
	while IFS='|' read -r hdr why; do
		[ -n "$hdr" ] || continue
		hdr=$(eval "echo $hdr")
		why=$(eval "echo \"${why# }\"")
		run -0 proxied "hex:$hdr" - 0 "$(s4 "$ECHO_PORT")"
		[ -z "$(replied)" ] || die "$hdr: $output"
		rec=$(record_of "$(from_port)")
		[ "$(field Reason <<<"$rec")" = "PROXY $why" ] ||
			die "$hdr: $rec"
		[ "$(field S_IP <<<"$rec")" = 127.0.0.1 ] || die "$hdr: $rec"
	done <<'ROWS'
$(v1 'TCP4 1.2.3.4 5.6.7.8 80 garbage')   | $shape
$(v1 'TCP4 1.2.3.4 5.6.7.8 80 1080 x')    | $shape
$(v1 'TCP4 1.2.3.4 5.6.7.8 080 1080')     | $shape
$(v1 'TCP4 1.2.3.4 5.6.7.8 65536 1080')   | $shape
$(v1 'TCP4 ::1 ::1 80 1080')              | $shape
$(v1 'TCP6 1.2.3.4 5.6.7.8 80 1080')      | $shape
$(v1 'TCP4  1.2.3.4 5.6.7.8 80 1080')     | $shape
$(v1 'UDP4 1.2.3.4 5.6.7.8 80 1080') | v1 protocol is not TCP4, TCP6 or UNKNOWN
$(hex 'PROXY TCP4 1.2.3.4 5.6.7.8 80 1080\n') | v1 header does not end in CRLF
$(hex "PROXY $(printf '%0120d' 0)")    | v1 header longer than 107 bytes
${sig}21110201 | v2 header longer than 16 + 512 bytes
${sig}1111000c | v2 version is not 2
${sig}2211000c | v2 command is neither LOCAL nor PROXY
${sig}21000000 | v2 carries no TCP over IPv4 or IPv6
${sig}21120000 | v2 carries no TCP over IPv4 or IPv6
${sig}21310000 | v2 carries no TCP over IPv4 or IPv6
${sig}21110008 | v2 address block shorter than its family's
ROWS
}

@test "a truncated header: abandoned when the balancer closes" {
	local sig=0d0a0d0a000d0a515549540a
	run -0 proxied "hex:${sig}2111000cc6336407" - 0 ''
	[ "$(record_of "$(from_port)" | field Reason)" = \
		"balancer closed before a complete PROXY header" ]
}

@test "a header dribbled past -T: abandoned at the deadline" {
	local start took rec
	start=$SECONDS
	run -0 "$PYTHON" - "$SOCKS_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
print("from", s.getsockname()[1], flush=True)
try:
    for b in b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 1080\r\n":
        s.sendall(bytes([b]))
        time.sleep(0.5)
    print("sent it all")
except OSError as e:
    print("cut off:", e)
PY
	took=$((SECONDS - start))
	echo "$output (${took} s)"
	[[ "$output" != *"sent it all"* ]]
	(( took < 20 ))
	rec=$(record_of "$(from_port)")
	[ "$(field Reason <<<"$rec")" = "no complete PROXY header within 4 s" ]
}

# table: the -P value | the one line on stderr (exit 2)
@test "-P: a bad address or prefix is one line, exit 2" {
	local arg want many=() see="; see socks4d -h"
	while IFS='|' read -r arg want; do
		[ -n "$arg" ] || continue
		arg=${arg%% *}
		run -2 --separate-stderr "$SOCKS4D" -c /dev/null -P "$arg"
		[ "$stderr" = "socks4d: -P: '$arg' ${want# }$see" ] ||
			die "$arg: $stderr"
	done <<'ROWS'
10.0.0.0/33       | is not ADDR/BITS with BITS in 0..32
::1/129           | is not ADDR/BITS with BITS in 0..128
10.0.0.1/-1       | is not ADDR/BITS with BITS in 0..32
10.0.0.1/         | is not ADDR/BITS with BITS in 0..32
balancer.example  | is not ADDR[/BITS], ADDR an IPv4 or IPv6 address
10.0.0.256        | is not ADDR[/BITS], ADDR an IPv4 or IPv6 address
::ffff:10.0.0.1/95 | is a mapped IPv4 address with BITS under 96
ROWS
	for i in $(seq 17); do many+=(-P "10.0.0.$i"); done
	run -2 --separate-stderr "$SOCKS4D" -c /dev/null "${many[@]}"
	[ "$stderr" = "socks4d: -P: '10.0.0.17' is one balancer too many (at\
 most 16); see socks4d -h" ]
}

# an IPv4 balancer on a dual-stack socket is seen as ::ffff:127.0.0.1
@test "a mapped IPv6 peer is the IPv4 balancer -P names" {
	serve MAPPED ::ffff:127.0.0.1 "$SOCKS_LOG" with_port \
		systemd-socket-activate -a --inetd \
		-l '[::ffff:127.0.0.1]:@PORT@' "$SOCKS4D" -c "$CONF" \
		-P 127.0.0.1
	local cp=$((43000 + RANDOM % 1000))
	PORT=$MAPPED_PORT run -0 proxied v2 198.51.100.7 "$cp" \
		"$(s4 "$ECHO_PORT")"
	[[ "$output" == *"reply 005a"* ]] || die "$output"
	[ "$(record_of "$cp" | field Via)" = "127.0.0.1:$(from_port)" ]
}

@test "listener mode, an IPv6 balancer: the same" {
	local cp=$((44000 + RANDOM % 1000)) log=$BATS_TEST_TMPDIR/listener.log
	serve L '::1' "$log" with_port "$SOCKS4D" -c "$CONF" -P ::1 \
		-l '[::1]:@PORT@'
	HOST=::1 FROM=::1 PORT=$L_PORT run -0 proxied v2 198.51.100.7 "$cp" \
		"$(s4 "$ECHO_PORT")" 5000 8
	echo "$output"
	[[ "$output" == *"reply 005a"* ]]
	[[ "$output" == *"echo same"* ]]
	[ "$(record_of "$cp" "$log" | field Via)" = "::1:$(from_port)" ]
	# a connection of its own: no header, refused
	HOST=::1 FROM=::1 PORT=$L_PORT run -0 proxied none - 0 \
		"$(s4 "$ECHO_PORT")"
	[[ "$output" == *"reply 005b"* ]]
	no_sanitizer_reports "$log"
}
