#!/usr/bin/env bats
# BIND and UDP ASSOCIATE behind a real NAT: -A names the address replies
# give, -U the ports BIND and UDP sockets take.  Three network namespaces of
# this file's own, joined by veth pairs:
#
#   outside 198.51.100.2 (client)  --  router 198.51.100.1 | 10.9.0.1  --
#           198.51.100.3 (peers)       (nftables)              inside 10.9.0.2
#
# The router forwards TCP 1080 and TCP and UDP 40000-40009 to the inside
# (DNAT), masquerades what leaves the inside, and drops anything else that
# comes from outside, as a home router with port forwards does.  socks4d
# listens inside (-l 10.9.0.2:1080); the clients, the UDP echo server and
# BIND's peer are outside.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=90
load test_helper

setup_file() {
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	command -v nft >/dev/null || skip "no nft (nftables)"
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	local n
	for n in OUT RTR INS; do netns_new "${n}_NS"; done
	nat_up
	# the UDP echo server, outside, that relayed datagrams reach
	export UECHO_PORT=7007
	nsenter -t "$OUT_NS" -n "$PYTHON" -c '
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("198.51.100.3", int(sys.argv[1])))
print("ready", flush=True)
while True:
    d, a = u.recvfrom(65535)
    u.sendto(b"echo:" + d, a)' "$UECHO_PORT" \
		</dev/null >"$BATS_FILE_TMPDIR/uecho.log" 2>&1 3>&- &
	export UECHO_PID=$!
	wait_for_log "$BATS_FILE_TMPDIR/uecho.log" ready
}

teardown_file() {
	kill_pids "${UECHO_PID:-}" "${OUT_NS:-}" "${RTR_NS:-}" "${INS_NS:-}"
}

setup() {
	# The sessions run as nobody: socks.conf must be theirs to read.
	CONFDIR=$(mktemp -d /tmp/socks4d-nat.XXXXXX)
	chmod 755 "$CONFDIR"
	CONF=$CONFDIR/socks.conf
	printf '%s\n' 'permit bu 198.51.100.0/24' 'permit u 10.9.0.0/24' \
		'permit u fd00:9::/64' >"$CONF"
	chmod 644 "$CONF"
	L_LOG=$BATS_TEST_TMPDIR/inside.log
	L_PIDS=()
}

teardown() {
	local p
	for p in "${L_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		timeout 20 tail --pid="$p" -f /dev/null ||
			kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	no_sanitizer_reports "$L_LOG"
	if grep -n 'ended by signal' "$L_LOG"; then die "a session crashed"; fi
	rm -rf "$CONFDIR"
	# shown only when the test fails
	tail -n 40 "$L_LOG"
}

# in_ns NAME CMD...: CMD in namespace NAME (OUT, RTR or INS).  A server
# is started with nsenter itself, so that its PID is the server's.
in_ns() {
	local pid=${1}_NS
	shift
	nsenter -t "${!pid}" -n "$@"
}

nat_up() {
	in_ns OUT ip link add name out0 type veth peer name r-out \
		netns "$RTR_NS"
	in_ns RTR ip link add name r-in type veth peer name in0 netns "$INS_NS"
	in_ns OUT ip addr add 198.51.100.2/24 dev out0
	in_ns OUT ip addr add 198.51.100.3/24 dev out0
	in_ns RTR ip addr add 198.51.100.1/24 dev r-out
	in_ns RTR ip addr add 10.9.0.1/24 dev r-in
	in_ns INS ip addr add 10.9.0.2/24 dev in0
	in_ns INS ip addr add fd00:9::2/64 dev lo nodad
	in_ns OUT ip link set lo up
	in_ns OUT ip link set out0 up
	in_ns RTR ip link set lo up
	in_ns RTR ip link set r-out up
	in_ns RTR ip link set r-in up
	in_ns INS ip link set lo up
	in_ns INS ip link set in0 up
	in_ns OUT ip route add default via 198.51.100.1
	in_ns INS ip route add default via 10.9.0.1
	in_ns RTR sysctl -qw net.ipv4.ip_forward=1
	in_ns RTR nft -f - <<-'EOF'
	table ip nat {
		chain pre {
			type nat hook prerouting priority dstnat;
			iifname "r-out" tcp dport { 1080, 40000-40009 } \
				dnat to 10.9.0.2
			iifname "r-out" udp dport 40000-40009 dnat to 10.9.0.2
		}
		chain post {
			type nat hook postrouting priority srcnat;
			oifname "r-out" masquerade
		}
	}
	table ip filter {
		chain forward {
			type filter hook forward priority filter; policy drop;
			ct state established,related accept
			iifname "r-in" oifname "r-out" accept
			iifname "r-out" ct status dnat accept
		}
	}
	EOF
}

# start_inside [socks4d options]: a listener in the inside namespace,
# -l 10.9.0.2:1080 unless the options give -l; its log is $L_LOG.
start_inside() {
	local listen=(-l 10.9.0.2:1080) pid
	[[ " $* " == *" -l "* ]] && listen=()
	nsenter -t "$INS_NS" -n "$SOCKS4D" -c "$CONF" "${listen[@]}" "$@" \
		</dev/null >>"$L_LOG" 2>&1 3>&- &
	pid=$!
	L_PIDS+=("$pid")
	wait_for_log "$L_LOG" "^socks4d\[$pid\]: listening on " 20
}

# nat_client MODE ARGS...: nat_client.py's client (see the Python) in the
# outside namespace, from 198.51.100.2, to the proxy at 198.51.100.1:1080.
# NS=INS runs it inside instead, PROXY= names another proxy address.
nat_client() {
	in_ns "${NS:-OUT}" "$PYTHON" - "${PROXY:-198.51.100.1}" "$@" <<'PY'
import socket, sys, time
proxy, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
PORT = 1080

def read(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            break
        b += c
    return b

def connect():
    v6 = ":" in proxy
    c = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
    if not v6 and proxy.startswith("198.51.100."):
        c.bind(("198.51.100.2", 0))
    c.settimeout(30)
    c.connect((proxy, PORT))
    return c

def greeted():
    c = connect()
    c.sendall(b"\x05\x01\x00")
    assert read(c, 2) == b"\x05\x00"
    return c

def reply5(c):
    """A SOCKS5 reply: (hex, address, port), the address as text."""
    r = read(c, 4)
    if len(r) < 4 or r[1] != 0:
        return (r + read(c, 6)).hex(), None, None
    if r[3] == 4:
        a = read(c, 18)
        return (r + a).hex(), socket.inet_ntop(socket.AF_INET6, a[:16]), \
            int.from_bytes(a[16:], "big")
    a = read(c, 6)
    return (r + a).hex(), socket.inet_ntoa(a[:4]), int.from_bytes(a[4:],
                                                                  "big")

def associate():
    c = greeted()
    c.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
    return c, reply5(c)

def gone(c):
    """Half-close, and wait for the session to end: its ports are free."""
    c.shutdown(socket.SHUT_WR)
    while c.recv(100):
        pass
    c.close()

def datagram(u, relay, dst, dport, data):
    """Sent (again, each 3 s, 4 times) until its answer comes; a late
    answer to an earlier datagram is passed over."""
    msg = (b"\x00\x00\x00\x01" + socket.inet_aton(dst) +
           dport.to_bytes(2, "big") + data.encode())
    for _ in range(4):
        u.sendto(msg, relay)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            u.settimeout(max(end - time.monotonic(), 0.01))
            try:
                d, src = u.recvfrom(65535)
            except socket.timeout:
                break
            if not d.endswith(b"echo:" + data.encode()):
                continue
            assert d[:4] == b"\x00\x00\x00\x01", d
            return "got %s %d %s from %s:%d" % (
                socket.inet_ntoa(d[4:8]), int.from_bytes(d[8:10], "big"),
                d[10:].decode(), src[0], src[1])
    return "no answer"

# udp DST DPORT DATA...: an association; each DATA to DST:DPORT through
# the relay the reply names; prints the reply, then one line a datagram.
if mode == "udp":
    c, (h, addr, port) = associate()
    print("reply", h, "relay", addr, port, "client", c.getsockname()[1])
    if addr is None:
        sys.exit(0)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("198.51.100.2", 0))
    for data in args[2:]:
        try:
            print(datagram(u, (addr, port), args[0], int(args[1]), data))
        except OSError as e:
            print("unreachable", e.strerror)
    gone(c)

# reply: an association's reply, nothing more.
elif mode == "reply":
    c, (h, addr, port) = associate()
    print("reply", h, "relay", addr, port)
    gone(c)

# bind 4|5 PEER [first]: a BIND naming PEER (198.51.100.3), which then
# connects from there to the address and port of the first reply; bytes
# both ways.  With "first", only the first reply.
elif mode == "bind":
    ver, peer = args[0], args[1]
    if ver == "4":
        c = connect()
        c.sendall(b"\x04\x02\x00\x00" + socket.inet_aton(peer) + b"n\x00")
        f = read(c, 8)
        first, addr, port = f.hex(), socket.inet_ntoa(f[4:8]), \
            int.from_bytes(f[2:4], "big")
        ok = len(f) == 8 and f[1] == 90
    else:
        c = greeted()
        c.sendall(b"\x05\x02\x00\x01" + socket.inet_aton(peer) + b"\x00\x00")
        first, addr, port = reply5(c)
        ok = addr is not None
    print("first", first, "at", addr, port, "client", c.getsockname()[1])
    if not ok or args[2:] == ["first"]:
        sys.exit(0)
    p = socket.socket()
    p.bind((peer, 0))
    p.settimeout(30)
    p.connect((addr, port))
    second = read(c, 8 if ver == "4" else 10).hex()
    print("second", second, "peer", p.getsockname()[1])
    p.sendall(b"from-peer")
    c.sendall(b"from-client")
    print("client got", read(c, 9).decode())
    print("peer got", read(p, 11).decode())

# full: with -U of two ports, two associations held take both: one held,
# a second opened and closed 6 times (each finds the free port, wherever
# the walk starts), then held; a third is refused.  The same for SOCKS4
# BIND's listeners.
elif mode == "full":
    a1, r1 = associate()
    print("first", r1[0])
    for _ in range(6):
        a2, r2 = associate()
        print("again", r2[0], "other port", r2[2] != r1[2])
        gone(a2)
    a2, r2 = associate()
    a3, r3 = associate()
    print("third", r3[0], "client", a3.getsockname()[1])
    held = []
    for i in range(3):
        b = connect()
        b.sendall(b"\x04\x02\x00\x00\xc6\x33\x64\x03n\x00")
        print("bind", i + 1, read(b, 8).hex(), "client", b.getsockname()[1])
        held.append(b)
    for c in [a1, a2] + held[:2]:
        gone(c)
    a4, r4 = associate()
    print("after", r4[0])
    gone(a4)
PY
}

# in_range PORT: one of 40000-40009
in_range() { (( $1 >= 40000 && $1 <= 40009 )) || die "port $1 not in range"; }

# (1) UDP: the reply names the router and a port it forwards; datagrams to
# it reach the echo server outside, and the answers come back from there
@test "-A -U: a UDP ASSOCIATE from outside the NAT round-trips datagrams" {
	start_inside -A 198.51.100.1 -U 40000-40009
	run -0 nat_client udp 198.51.100.3 "$UECHO_PORT" one two three
	echo "$output"
	read -r _ reply _ addr port _ client <<<"${lines[0]}"
	[ "$addr" = 198.51.100.1 ] || die "reply names $addr"
	in_range "$port"
	[ "$reply" = "05000001c6336401$(hex4 "$port")" ] || die "$reply"
	local i=1 d
	for d in one two three; do
		[ "${lines[i]}" = "got 198.51.100.3 $UECHO_PORT echo:$d from\
 198.51.100.1:$port" ] || die "datagram $d: ${lines[i]}"
		i=$((i + 1))
	done
	rec=$(record_of "$client" "$L_LOG" 20)
	grep -qx '<S_IP> :198.51.100.2' <<<"$rec" || die "$rec"
	grep -qx "<B_PORT> :$port" <<<"$rec" || die "$rec"
}

# (2) BIND: the first reply names the router and a forwarded port; the peer
# outside connects there; the second reply names it; bytes both ways
@test "-A -U: SOCKS4 and SOCKS5 BIND from outside, the peer connects back" {
	start_inside -A 198.51.100.1 -U 40000-40009
	local v first addr port
	for v in 4 5; do
		run -0 nat_client bind "$v" 198.51.100.3
		echo "$output"
		read -r _ first _ addr port _ <<<"${lines[0]}"
		[ "$addr" = 198.51.100.1 ] || die "SOCKS$v: first names $addr"
		in_range "$port"
		if [ "$v" = 4 ]; then
			[ "$first" = "005a$(hex4 "$port")c6336401" ] ||
				die "$first"
			[[ ${lines[1]} == "second 005a"????c6336403" "* ]] ||
				die "${lines[1]}"
		else
			[ "$first" = "05000001c6336401$(hex4 "$port")" ] ||
				die "$first"
			[[ ${lines[1]} == "second 05000001c6336403"* ]] ||
				die "${lines[1]}"
		fi
		[ "${lines[2]}" = "client got from-peer" ] || die "${lines[2]}"
		[ "${lines[3]}" = "peer got from-client" ] || die "${lines[3]}"
	done
}

# (3) -U 40000-40001: two associations hold both ports; the third gets
# general failure (05 01) and its record the reason; SOCKS4 BIND's third
# listener 91; a port freed is taken again
@test "-U: a used-up range refuses the request, with the reason" {
	start_inside -A 198.51.100.1 -U 40000-40001
	run -0 nat_client full
	echo "$output"
	# 05 00 00 01, 198.51.100.1, 40000 or 40001 (9c40, 9c41)
	local ok=05000001c63364019c4 i
	[[ ${lines[0]} == "first $ok"[01] ]] || die "${lines[0]}"
	for i in 1 2 3 4 5 6; do
		[[ ${lines[i]} == "again $ok"[01]" other port True" ]] ||
			die "${lines[i]}"
	done
	read -r _ third _ client <<<"${lines[7]}"
	[ "$third" = 05010001000000000000 ] || die "third: $third"
	rec=$(record_of "$client" "$L_LOG" 20)
	grep -qx '<Reason> :UDP socket: no free port in -U 40000-40001' \
		<<<"$rec" || die "$rec"
	[[ ${lines[8]} == "bind 1 005a9c4"[01]"c6336401 client "* ]] ||
		die "${lines[8]}"
	[[ ${lines[9]} == "bind 2 005a9c4"[01]"c6336401 client "* ]] ||
		die "${lines[9]}"
	read -r _ _ third _ client <<<"${lines[10]}"
	[ "$third" = 005b0000c6336403 ] || die "third BIND: $third"
	rec=$(record_of "$client" "$L_LOG" 20)
	grep -qx '<Reason> :BIND listener: no free port in -U 40000-40001' \
		<<<"$rec" || die "$rec"
	[[ ${lines[11]} == "after $ok"[01] ]] || die "${lines[11]}"
}

# (4) without -A the replies name the inside address, as before -A: a
# client outside has nothing to reach (the router drops it)
@test "-U without -A: replies name the inside address, unreachable outside" {
	start_inside -U 40000-40009
	run -0 nat_client udp 198.51.100.3 "$UECHO_PORT" lost
	echo "$output"
	read -r _ reply _ addr port _ <<<"${lines[0]}"
	[ "$addr" = 10.9.0.2 ] || die "reply names $addr"
	in_range "$port"
	[ "$reply" = "050000010a090002$(hex4 "$port")" ] || die "$reply"
	[ "${lines[1]}" = "no answer" ] || die "${lines[1]}"
	run -0 nat_client bind 4 198.51.100.3 first
	echo "$output"
	read -r _ first _ addr port _ <<<"${lines[0]}"
	[ "$addr" = 10.9.0.2 ] || die "first names $addr"
	in_range "$port"
	[ "$first" = "005a$(hex4 "$port")0a090002" ] || die "$first"
}

# each reply gives the -A of its socket's family; an IPv4 client of a
# dual-stack listener counts as IPv4; a family with no -A, the own address
@test "-A per family: IPv4 and IPv6 replies, mapped IPv4, none given" {
	start_inside -l 1080 -A 198.51.100.1 -A 2001:db8:100::1
	NS=INS PROXY=10.9.0.2 run -0 nat_client reply
	echo "$output"
	[[ $output == "reply 05000001c6336401"????" relay 198.51.100.1 "* ]] ||
		die "IPv4 (mapped): $output"
	NS=INS PROXY=fd00:9::2 run -0 nat_client reply
	echo "$output"
	# 05 00 00 04, 2001:db8:100::1
	local v6=0500000420010db80100000000000000000000
	[[ $output == "reply ${v6}01"????" relay 2001:db8:100::1 "* ]] ||
		die "IPv6: $output"
	kill -TERM "${L_PIDS[0]}"
	wait "${L_PIDS[0]}" || :
	L_PIDS=()
	start_inside -l '[fd00:9::2]:1080' -A 198.51.100.1
	NS=INS PROXY=fd00:9::2 run -0 nat_client reply
	echo "$output"
	# 05 00 00 04, fd00:9::2
	v6=05000004fd00000900000000000000000000
	[[ $output == "reply ${v6}0002"????" relay fd00:9::2 "* ]] ||
		die "IPv6 without its -A: $output"
}
