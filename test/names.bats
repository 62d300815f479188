#!/usr/bin/env bats
# Host names in socks.conf: "www.example.com" (that name) and
# ".example.com" (it and every name under it), through socks4d -t and live
# requests (SOCKS4a, SOCKS5 ATYP 3, UDP datagrams by name).  socks4d runs
# in a mount namespace of each session's own where /etc/hosts is this
# file's hosts file and /etc/resolv.conf names a DNS stand-in (on a
# loopback address of its own, port 53) that logs each question and
# answers NXDOMAIN: a name the rules deny before its lookup must never
# reach it.  Destinations: echo peers on 127.0.0.2 and 127.0.0.3, and a
# trap on 127.0.0.2 that logs any connection (a refused request never
# reaches it).
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper

# The DNS stand-in on ADDR port 53: one line "NAME QTYPE" a question, then
# NXDOMAIN back.
DNS_SINK_PY='
import socket, sys
addr, log, ready = sys.argv[1:4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
open(ready, "w").write("ready\n")
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    qtype = int.from_bytes(q[i + 1:i + 3], "big")
    with open(log, "a") as f:
        f.write("%s %d\n" % (".".join(labels), qtype))
    flags = 0x8000 | (q[2] << 8 & 0x7900) | 0x80 | 3
    s.sendto(q[:2] + flags.to_bytes(2, "big") + q[4:6] + bytes(6)
             + q[12:i + 5], peer)
'

setup_file() {
	[ "$(id -u)" = 0 ] || skip "a private /etc/hosts needs root"
	local d=$BATS_FILE_TMPDIR
	cat >"$d/hosts" <<-EOF
	127.0.0.1 localhost
	127.0.0.2 www.example.com WWW.Example.COM. www.Example.com.
	127.0.0.2 api.example.com API.Example.COM.
	127.0.0.3 example.com
	127.0.0.2 tracker.example
	127.0.0.2 evil.example.net EVIL.example.net.
	127.0.0.2 notexample.com
	EOF
	chmod 644 "$d/hosts"
	# socks4d (and socks4d -t) with them
	cat >"$d/socks4d" <<-EOF
	#!/bin/sh
	exec unshare -m sh -ec 'mount --bind "\$0" /etc/hosts
		mount --bind "\$1" /etc/resolv.conf; shift; exec "\$@"' \\
		"$d/hosts" "$d/resolv.conf" "$SOCKS4D" "\$@"
	EOF
	chmod +x "$d/socks4d"
	export WRAPPED=$d/socks4d DNSLOG=$d/dns.log
	start_dns

	export TRAPLOG=$d/trap.log
	: >"$TRAPLOG"
	start_peer ECHO echo 127.0.0.2
	start_peer ECHO3 echo 127.0.0.3
	start_peer TRAP echo 127.0.0.2 --accept-log "$TRAPLOG"
	start_peer UECHO udp-echo 127.0.0.2

	export CONF=$d/socks.conf
	printf 'deny c *\n' >"$d/initial.conf"
	ln -sfn "$d/initial.conf" "$CONF"
	SOCKS4D=$WRAPPED start_socks4d "$CONF" -u "$d/none"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
	hosts_seen
}

# start_dns: the DNS stand-in on a 127.0.X.Y of its own (another run of
# this file may hold one), named in $d/resolv.conf.  Sets DNS_PID.
start_dns() {
	local d=$BATS_FILE_TMPDIR addr try
	for try in 1 2 3 4 5; do
		addr=127.0.$((RANDOM % 200 + 50)).$((RANDOM % 250 + 2))
		printf 'nameserver %s\noptions timeout:2 attempts:1\n' \
			"$addr" >"$d/resolv.conf"
		chmod 644 "$d/resolv.conf"
		: >"$DNSLOG"
		rm -f "$d/dns.ready"
		"$PYTHON" -c "$DNS_SINK_PY" "$addr" "$DNSLOG" "$d/dns.ready" \
			</dev/null >>"$d/dns.err" 2>&1 3>&- &
		export DNS_PID=$!
		while kill -0 "$DNS_PID" 2>/dev/null &&
			[ ! -s "$d/dns.ready" ]; do sleep 0.05; done
		[ -s "$d/dns.ready" ] && return 0
		wait "$DNS_PID" 2>/dev/null || :
	done
	die "no DNS stand-in: $(tail -5 "$d/dns.err")"
}

teardown_file() {
	stop_socks4d
	kill_pids "${ECHO_PID:-}" "${ECHO3_PID:-}" "${TRAP_PID:-}" \
		"${UECHO_PID:-}" "${DNS_PID:-}"
}

# each test's questions and trap connections its own
setup() {
	: >"$DNSLOG"
	: >"$TRAPLOG"
}

# hosts_seen: socks4d, through the wrapper, resolves the hosts file's
# names (and only through it: else these tests would prove nothing).  The
# names asked in other cases, or with a trailing dot, are listed as such:
# musl's hosts lookup compares names as they are, and the rules, not the
# resolver, are under test.
hosts_seen() {
	local conf=$BATS_FILE_TMPDIR/any.conf
	printf 'permit c *\n' >"$conf"
	[ "$("$WRAPPED" -t -c "$conf" c example.com 80)" = \
		"permit ($conf:1 permits)" ] || die "example.com not resolved"
	[ "$("$WRAPPED" -t -c "$conf" c evil.example.net 80)" = \
		"permit ($conf:1 permits)" ] ||
		die "evil.example.net not resolved"
}

# tcheck FILE-LINES -- ARGS...: socks4d -t, through the wrapper, on a file
# of those lines ($TC).
tcheck() {
	local lines=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do lines+=("$1"); shift; done
	shift $(($# > 0))
	TC=$BATS_TEST_TMPDIR/check.conf
	printf '%s\n' "${lines[@]}" >"$TC"
	"$WRAPPED" -t -c "$TC" "$@"
}

# verdict WANT ARGS...: socks4d -t c ARGS on $TC's rules prints just WANT
# (permit: exit 0, reject: 1), nothing on stderr.
verdict() {
	local want=$1 rc=0 out err
	shift
	out=$("$WRAPPED" -t -c "$TC" c "$@" 2>"$BATS_TEST_TMPDIR/err") ||
		rc=$?
	err=$(cat "$BATS_TEST_TMPDIR/err")
	[ "$out" = "$want" ] || die "-t c $*: '$out', not '$want' ($err)"
	[ -z "$err" ] || die "-t c $*: stderr: $err"
	[ "$rc" = "$([[ $want == permit* ]] && echo 0 || echo 1)" ] ||
		die "-t c $*: exit $rc"
}

# asked NAME: the DNS stand-in was asked about NAME (any case).
asked() { grep -qi "^${1//./\\.} " "$DNSLOG"; }

# never_asked NAME: the DNS stand-in was never asked about NAME.  Proved
# after a lookup of a fresh name has reached it: the stand-in reads its
# socket in order, so a question sent before that one is in the log by
# then.
never_asked() {
	local mark=mark-$((++MARKS))-$$.invalid conf=$BATS_TEST_TMPDIR/m.conf
	printf 'permit c *\n' >"$conf"
	"$WRAPPED" -t -c "$conf" c "$mark" 80 >/dev/null 2>&1 || :
	wait_cmd 10 "the DNS stand-in never saw $mark" asked "$mark"
	! asked "$1" || die "$1 was looked up: $(cat "$DNSLOG")"
}

# s4a NAME PORT DATA: a SOCKS4a CONNECT to NAME:PORT from local port
# $CPORT (the caller's: run's subshell keeps nothing), DATA after it; the
# reply and what came back, in hex.
s4a() {
	raw "$CPORT" "$SOCKS_PORT" "$(req 1 "$2" 0.0.0.1 names "$1")$3"
}

# s5 NAME PORT DATA: a SOCKS5 CONNECT (ATYP 3; ATYP 1 for an IPv4 address)
# to NAME:PORT from local port $CPORT; prints "reply HEX" and, if granted,
# "echo DATA": what came back after DATA and a half-close.
s5() {
	"$PYTHON" - "$SOCKS_PORT" "$1" "$2" "$3" "$CPORT" <<'PY'
import socket, sys
port, name, dport, data, cport = int(sys.argv[1]), sys.argv[2].encode(), \
    int(sys.argv[3]), sys.argv[4].encode(), int(sys.argv[5])
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c.bind(("127.0.0.1", cport))
c.settimeout(20)
c.connect(("127.0.0.1", port))
c.sendall(b"\x05\x01\x00")
assert c.recv(2, socket.MSG_WAITALL) == b"\x05\x00"
try:	# an IPv4 address goes as one (ATYP 1)
    dst = b"\x01" + socket.inet_aton(name.decode())
except OSError:
    dst = b"\x03" + bytes([len(name)]) + name
c.sendall(b"\x05\x01\x00" + dst + dport.to_bytes(2, "big"))
reply = c.recv(10, socket.MSG_WAITALL)
print("reply", reply.hex())
if len(reply) == 10 and reply[1] == 0:
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    print("echo", c.recv(65536, socket.MSG_WAITALL).decode())
PY
}

# refused CPORT REASON: the session from CPORT ended in a refusal for
# REASON, socks4d exited 1, and the trap saw no connection.
refused() {
	local rec
	rec=$(record_of "$1") || return 1
	has "$rec" "<Reply> :Reject" || return 1
	has "$rec" "<Reason> :$2" || return 1
	[ "$(exit_code "$(conn_pid "$1")")" = 1 ] ||
		die "socks4d did not exit 1"
	[ ! -s "$TRAPLOG" ] ||
		die "a refused request reached the trap: $(cat "$TRAPLOG")"
}

# granted CPORT NAME ADDR: the session from CPORT was granted, for NAME,
# connected to ADDR.
granted() {
	local rec
	rec=$(record_of "$1") || return 1
	has "$rec" "<Reply> :Accept" || return 1
	has "$rec" "<D_NAME> :$2" || return 1
	has "$rec" "<D_IP> :$3"
}

# relayed_s4a NAME: a SOCKS4a CONNECT by NAME (127.0.0.2) to the echo peer
# is granted, relayed, and recorded with the name and the address.
relayed_s4a() {
	CPORT=$(client_port)
	run -0 s4a "$1" "$ECHO_PORT" 'ping\n'
	[ "$output" = "005a$(hex4 "$ECHO_PORT")00000001$(hex 'ping\n')" ] ||
		die "$output"
	granted "$CPORT" "$1" 127.0.0.2
}

@test "-t: exact and suffix names, case and trailing dots, by name only" {
	tcheck 'permit c .example.com' --
	local a="permit ($TC:1 permits)" none="reject (no rule in $TC matches)"
	verdict "$a" example.com 80
	verdict "$a" www.example.com 80
	verdict "$a" WWW.Example.COM. 80
	verdict "$a" api.example.com 80
	verdict "$none" notexample.com 80
	verdict "$none" tracker.example 80
	# the address www.example.com resolves to, asked as an address
	verdict "$none" 127.0.0.2 80
	# exact, written with a trailing dot: no name under it
	tcheck 'permit c www.example.com.' 'deny c *' --
	verdict "permit ($TC:1 permits)" www.example.com 80
	verdict "permit ($TC:1 permits)" www.Example.com. 80
	verdict "reject ($TC:2 denies)" api.example.com 80
	verdict "reject ($TC:2 denies)" example.com 80
	verdict "reject ($TC:2 denies)" sub.www.example.com 80
	never_asked sub.www.example.com
}

@test "-t: a name denied before its lookup: not looked up, even one nowhere" {
	tcheck 'deny c .invalid' 'permit c *' --
	verdict "reject ($TC:1 denies)" nosuch.invalid 80
	verdict "reject ($TC:1 denies)" NoSuch.INVALID. 443
	never_asked nosuch.invalid
	# control: an address deny does not stop the lookup
	tcheck 'deny c 10.0.0.0/8' 'permit c *' --
	run --separate-stderr -1 "$WRAPPED" -t -c "$TC" c looked-up.invalid 80
	[ -z "$output" ]
	[ "$stderr" = "socks4d: cannot resolve looked-up.invalid" ]
	asked looked-up.invalid
}

@test "-t: a name rule's port and user" {
	tcheck 'permit c .example.com port 80' \
		'permit c .example.com user alice' 'deny c .example.com' \
		'permit c *' --
	verdict "permit ($TC:1 permits)" www.example.com 80
	verdict "reject ($TC:3 denies)" www.example.com 81 127.0.0.1
	verdict "permit ($TC:2 permits)" www.example.com 81 127.0.0.1 alice
	verdict "reject ($TC:3 denies)" www.example.com 81 127.0.0.1 bob
	# not a name of .example.com: the catch-all
	verdict "permit ($TC:4 permits)" tracker.example 81 127.0.0.1
	# no port: the port table, per range
	run -0 tcheck 'permit c .example.com port 80' 'deny c *' -- \
		c www.example.com
	[ "${lines[0]}" = "ports 1-79: reject ($TC:2 denies)" ] ||
		die "$output"
	[ "${lines[1]}" = "port 80: permit ($TC:1 permits)" ] || die "$output"
	[ "${lines[2]}" = "ports 81-65535: reject ($TC:2 denies)" ] ||
		die "$output"
}

@test "-t: a permitted name whose address a rule denies is refused" {
	tcheck 'permit c .example.net' 'deny c 127.0.0.0/8' 'permit c *' --
	verdict "reject ($TC:2 denies the address ($TC:1 permits the name))" \
		evil.example.net 80
	# the first address rule that matches decides: here a permit
	tcheck 'permit c .example.net' 'permit c 127.0.0.2' \
		'deny c 127.0.0.0/8' --
	verdict "permit ($TC:1 permits)" evil.example.net 80
	# * is no address rule: the catch-all after a name permit
	tcheck 'permit c .example.com' 'deny c *' --
	verdict "permit ($TC:1 permits)" www.example.com 80
}

@test "a name rule never matches a request by address" {
	conf 'permit c www.example.com'
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$TRAP_PORT" 127.0.0.2 names)ping\n"
	[ "$output" = "005b$(hex4 "$TRAP_PORT")7f000002" ] || die "$output"
	refused "$CPORT" "no rule in $CONF matches"
	# SOCKS5 by address (ATYP 1) too
	CPORT=$(client_port)
	run -0 s5 127.0.0.2 "$TRAP_PORT" ping
	[[ ${lines[0]} == "reply 0502"* ]] || die "$output"
	refused "$CPORT" "no rule in $CONF matches"
	# by name: granted, relayed
	relayed_s4a www.example.com
}

@test "a name permitted, its address denied: refused, never connected" {
	conf 'permit c .example.net' 'deny c 127.0.0.0/8' 'permit c *'
	local why="$CONF:2 denies the address ($CONF:1 permits the name)"
	CPORT=$(client_port)
	run -0 s4a evil.example.net "$TRAP_PORT" 'ping\n'
	[ "$output" = "005b$(hex4 "$TRAP_PORT")00000001" ] || die "$output"
	refused "$CPORT" "$why"
	CPORT=$(client_port)
	run -0 s5 EVIL.example.net. "$TRAP_PORT" ping
	[[ ${lines[0]} == "reply 0502"* ]] || die "$output"
	[ "${#lines[@]}" = 1 ] || die "$output"
	refused "$CPORT" "$why"
	# control: without the address rule the same name is granted
	conf 'permit c .example.net' 'permit c *'
	relayed_s4a evil.example.net
	# the catch-all * is not an address rule that denies
	conf 'permit c .example.com' 'deny c *'
	relayed_s4a www.example.com
	[ ! -s "$TRAPLOG" ] || die "the trap was reached: $(cat "$TRAPLOG")"
}

@test "a name denied before its lookup: 91 / REP 02, the DNS never asked" {
	conf 'deny c .invalid' 'permit c *'
	CPORT=$(client_port)
	run -0 s4a nosuch.invalid "$TRAP_PORT" 'ping\n'
	[ "$output" = "005b$(hex4 "$TRAP_PORT")00000001" ] || die "$output"
	refused "$CPORT" "$CONF:1 denies"
	CPORT=$(client_port)
	run -0 s5 other.INVALID. "$TRAP_PORT" ping
	[ "$output" = "reply 05020001000000000000" ] || die "$output"
	refused "$CPORT" "$CONF:1 denies"
	# no rule for the name at all: refused before the lookup too
	conf 'permit c .example.com'
	CPORT=$(client_port)
	run -0 s4a nomatch.invalid "$TRAP_PORT" 'ping\n'
	[ "$output" = "005b$(hex4 "$TRAP_PORT")00000001" ] || die "$output"
	refused "$CPORT" "no rule in $CONF matches"
	never_asked nosuch.invalid
	never_asked other.invalid
	never_asked nomatch.invalid
	# control: a live request that may be permitted is looked up
	conf 'deny c 10.0.0.0/8' 'permit c *'
	CPORT=$(client_port)
	run -0 s4a looked-up.invalid "$TRAP_PORT" 'ping\n'
	[ "$output" = "005b$(hex4 "$TRAP_PORT")00000001" ] || die "$output"
	refused "$CPORT" "cannot resolve looked-up.invalid"
	asked looked-up.invalid
}

@test "SOCKS5 ATYP 3: a suffix rule grants, any case, a trailing dot" {
	conf 'permit c .example.com' 'deny c *'
	CPORT=$(client_port)
	run -0 s5 www.example.com "$ECHO_PORT" by-name
	[[ ${lines[0]} == "reply 0500"* ]] &&
		[ "${lines[1]}" = "echo by-name" ] || die "$output"
	granted "$CPORT" www.example.com 127.0.0.2
	CPORT=$(client_port)
	run -0 s5 API.Example.COM. "$ECHO_PORT" shouted
	[[ ${lines[0]} == "reply 0500"* ]] &&
		[ "${lines[1]}" = "echo shouted" ] || die "$output"
	granted "$CPORT" API.Example.COM. 127.0.0.2
	# the suffix itself
	CPORT=$(client_port)
	run -0 s5 example.com "$ECHO3_PORT" bare
	[[ ${lines[0]} == "reply 0500"* ]] && [ "${lines[1]}" = "echo bare" ] ||
		die "$output"
	granted "$CPORT" example.com 127.0.0.3
	# a name that only ends the same way: deny c *, before the lookup
	CPORT=$(client_port)
	run -0 s5 notexample.com "$TRAP_PORT" no
	[ "$output" = "reply 05020001000000000000" ] || die "$output"
	refused "$CPORT" "$CONF:2 denies"
}

@test "UDP by name: denied dropped without a lookup, permitted relayed" {
	conf 'deny u .invalid' 'permit u .example.com' 'deny u *'
	local off
	off=$(log_size "$SOCKS_LOG")
	run -0 udp5 "$SOCKS_PORT" "-dropped.invalid:$UECHO_PORT:denied" \
		"-tracker.example:$UECHO_PORT:unlisted" \
		"www.example.com:$UECHO_PORT:relayed"
	[[ ${lines[0]} =~ ^reply\ 050000017f000001[0-9a-f]{4}$ ]] ||
		die "$output"
	[[ $output == *"got 127.0.0.2 $UECHO_PORT relayed"* ]] || die "$output"
	[[ $output != *denied* && $output != *unlisted* ]] || die "$output"
	wait_cmd 10 "no datagram count: $(log_since "$SOCKS_LOG" "$off")" \
		counted "$off" \
		'datagrams: 1 to client, 1 from client, 2 dropped'
	never_asked dropped.invalid
}

# counted OFFSET TEXT: the log, after OFFSET, has a line with TEXT.
counted() { log_since "$SOCKS_LOG" "$1" | grep -qF -- "$2"; }

@test "no sanitizer reports, no crash" {
	no_sanitizer_reports "$SOCKS_LOG"
	no_crash "$SOCKS_LOG"
}
