# The one helper library of the bats suites (`load test_helper`), in
# sections:
#   basics       the binary, failing, ports, waiting, stopping
#   servers      socks4d, destination peers, web/echo/FTP servers, syslog
#   the wire     hex, SOCKS4 requests as bytes, raw clients, the probe table
#   SOCKS5       users files, S5_GREETED, BIND and UDP ASSOCIATE clients
#   the log      records, end lines, exit codes, what a log gained
#   health       sanitizer reports, crashes, processes left behind
#   systemd      a command where the (private) systemd runs
#   hw4.cgi      its servers, lighttpd, headless Chromium, its page
# Every server a test starts listens on loopback, on a free port, and is
# stopped by the test file that started it.
# SPDX-License-Identifier: ISC

bats_require_minimum_version 1.5.0

# ---- basics ---------------------------------------------------------------

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# The binary under test; the sanitizer run sets SOCKS4D=$TOP/socks4d-san.
SOCKS4D=${SOCKS4D:-$TOP/socks4d}
# Debian's packaged Python modules (pyftpdlib) live with /usr/bin/python3.
PYTHON=/usr/bin/python3
CLIENT="$PYTHON $BATS_TEST_DIRNAME/socks4_client.py"
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

die() { echo "$*" >&2; return 1; }

# pick_port LOW COUNT: a port in [LOW, LOW+COUNT) that no TCP socket uses now.
pick_port() {
	local p hex
	while :; do
		p=$(($1 + RANDOM % $2))
		printf -v hex ':%04X ' "$p"
		grep -qF "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null ||
			break
	done
	echo "$p"
}

# free_port: a port for a server. Below the ephemeral range (32768 and up),
# so no outgoing connection (the load tests make thousands) can take it
# between this check and the server's bind.
free_port() { pick_port 10000 10000; }

# client_port: a local port for a client, so that its connection can be
# found in a log by source port; also below the ephemeral range, and apart
# from the servers' range.
client_port() { pick_port 20000 12000; }

# kill_pids PID...: stop and reap each process this test file started.
kill_pids() {
	local p
	for p in "$@"; do
		# a process killed waits with 143: no failure here
		[ -z "$p" ] || { kill "$p" && wait "$p"; } 2>/dev/null || :
	done
}

# wait_for_port HOST PORT [SECONDS]: until something accepts there.
wait_for_port() {
	local host=$1 port=$2 tries=$(( ${3:-10} * 20 ))
	while (( tries-- > 0 )); do
		if "$PYTHON" - "$host" "$port" <<'PY' 2>/dev/null; then return \
			0; fi
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
PY
		sleep 0.05
	done
	die "nothing listens on $host:$port"
}

# wait_for_log FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN.
wait_for_log() {
	local file=$1 pattern=$2 tries=$(( ${3:-10} * 20 ))
	while (( tries-- > 0 )); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	die "no line matching '$pattern' in $file"
}

# listens PID ADDR PORT: PID holds a listening TCP socket on ADDR:PORT
# (IPv4 or IPv6: /proc/net/tcp or tcp6, addresses as 32-bit words in host
# order).
listens() {
	local want inode a b c d table=/proc/net/tcp
	if [[ $2 == *:* ]]; then
		table=/proc/net/tcp6
		want=$("$PYTHON" -c 'import ipaddress, sys
b = ipaddress.IPv6Address(sys.argv[1]).packed
print("".join(b[i:i + 4][::-1].hex().upper() for i in range(0, 16, 4)))' "$2")
		printf -v want '%s:%04X' "$want" "$3"
	else
		IFS=. read -r a b c d <<<"$2"
		printf -v want '%02X%02X%02X%02X:%04X' "$d" "$c" "$b" "$a" "$3"
	fi
	inode=$(awk -v w="$want" '$2 == w && $4 == "0A" { print $10; exit }' \
		"$table")
	[ -n "$inode" ] &&
		find "/proc/$1/fd" -lname "socket:\[$inode\]" 2>/dev/null |
		grep -q .
}

# ---- servers --------------------------------------------------------------

# serve NAME ADDR LOG FUNC [ARGS...]: a server on a free port of ADDR:
# FUNC ARGS... PORT runs in the background, stdin /dev/null, stdout and
# stderr appended to LOG, and must exec the server (so that its PID is the
# listener's).  If the server dies before it listens (someone took the port
# meanwhile: free_port can only say what was free), it is started again on
# another port.  Sets and exports NAME_PORT, NAME_PID.
serve() {
	local name=$1 addr=$2 log=$3 port pid try end
	shift 3
	for try in 1 2 3 4 5; do
		port=$(free_port)
		"$@" "$port" </dev/null >>"$log" 2>&1 3>&- &
		pid=$!
		end=$((SECONDS + 10))
		while kill -0 "$pid" 2>/dev/null && (( SECONDS < end )); do
			if listens "$pid" "$addr" "$port"; then
				declare -gx "${name}_PORT=$port" \
					"${name}_PID=$pid"
				return 0
			fi
			sleep 0.05
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	die "$name did not start: $(tail -n 5 "$log")"
}

# with_port CMD... PORT: exec CMD with each @PORT@ in its words replaced.
with_port() {
	local port=${*: -1} a args=()
	for a in "${@:1:$#-1}"; do args+=("${a//@PORT@/$port}"); done
	exec "${args[@]}"
}

# start_socks4d_as NAME CONF [ARGS...]: socks4d under systemd-socket-activate
# --inetd (the stand-in for Accept=yes); its log (the super-server's lines
# and socks4d's stderr) is $NAME_LOG if set, else $BATS_FILE_TMPDIR/NAME.log.
# Sets NAME_PORT, NAME_PID, NAME_LOG (exported).
start_socks4d_as() {
	local name=$1 conf=$2 log_var=${1}_LOG
	shift 2
	declare -gx "$log_var=${!log_var:-$BATS_FILE_TMPDIR/$name.log}"
	serve "$name" 127.0.0.1 "${!log_var}" with_port \
		systemd-socket-activate -a --inetd -l 127.0.0.1:@PORT@ \
		"$SOCKS4D" -c "$conf" "$@"
}

# start_socks4d CONF [ARGS...]: the same as SOCKS, log by default
# $BATS_FILE_TMPDIR/socks4d.log. Sets SOCKS_PORT, SOCKS_PID, SOCKS_LOG.
start_socks4d() {
	SOCKS_LOG=${SOCKS_LOG:-$BATS_FILE_TMPDIR/socks4d.log}
	start_socks4d_as SOCKS "$@"
}

stop_socks4d() {
	kill_pids "${SOCKS_PID:-}"
	SOCKS_PID=
}

# conf LINE...: this test's socks.conf, one argument a line; the running
# socks4d reads it through $CONF (a symlink).
conf() {
	printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/socks.conf"
	ln -sfn "$BATS_TEST_TMPDIR/socks.conf" "$CONF"
}

# start_peer NAME MODE ADDR [peer.py options]: a destination server
# (test/peer.py) on a free port, waited for through its --ready file (a
# blackhole cannot be probed by connecting).  Exports NAME_PORT and NAME_PID.
start_peer() {
	local name=$1 mode=$2 addr=$3 port ready tries=200
	shift 3
	port=$(free_port)
	ready=$BATS_FILE_TMPDIR/$name.ready
	rm -f "$ready"
	"$PYTHON" "$BATS_TEST_DIRNAME/peer.py" "$mode" "$addr" "$port" \
		--ready "$ready" "$@" \
		</dev/null >/dev/null 2>>"$BATS_FILE_TMPDIR/peer.log" 3>&- &
	declare -gx "${name}_PID=$!" "${name}_PORT=$port"
	while [ ! -s "$ready" ] && (( tries-- > 0 )); do sleep 0.05; done
	[ -s "$ready" ] || die "$mode peer on $addr:$port did not start: $(
		tail -5 "$BATS_FILE_TMPDIR/peer.log")"
}

# start_web NAME ADDR DIR: Python's http.server for DIR on ADDR; its access
# log is $BATS_FILE_TMPDIR/http.log.  Sets NAME_PORT, NAME_PID.
start_web() {
	serve "$1" "$2" "$BATS_FILE_TMPDIR/http.log" with_port \
		"$PYTHON" -m http.server --bind "$2" --directory "$3" @PORT@
}

# start_http ADDR DIR: start_web as HTTP; also sets HTTP_ADDR.
start_http() {
	export HTTP_ADDR=$1
	start_web HTTP "$1" "$2"
}

stop_http() {
	kill_pids "${HTTP_PID:-}"
	HTTP_PID=
}

# start_echo ADDR: a TCP echo server (socat, one cat per client) on ADDR.
# Sets ECHO_PORT, ECHO_PID.
start_echo() {
	serve ECHO "$1" "$BATS_FILE_TMPDIR/echo.log" with_port \
		socat "TCP-LISTEN:@PORT@,bind=$1,reuseaddr,fork" EXEC:cat
}

# start_ftpd ADDR DIR: pyftpdlib on ADDR serving DIR, user tester/secret.
# Sets FTP_PORT, FTP_PID, FTP_LOG.
start_ftpd() {
	export FTP_LOG=$BATS_FILE_TMPDIR/ftpd.log
	serve FTP "$1" "$FTP_LOG" with_port \
		"$PYTHON" -m pyftpdlib -i "$1" -p @PORT@ -w -d "$2" -u tester \
		-P secret
}

# start_syslog DIR [SOCKET]: a stand-in syslog daemon (syslog_listener.py):
# a unix datagram socket, DIR/log.sock unless SOCKET is given, whose
# datagrams go to DIR/syslog.txt, one a line.  Sets SYSLOG_PID.
start_syslog() {
	local sock=${2:-$1/log.sock} tries=200
	mkdir -p "$1"
	: >"$1/syslog.txt"
	rm -f "$1/syslog.ready"
	"$PYTHON" "$BATS_TEST_DIRNAME/syslog_listener.py" "$sock" \
		"$1/syslog.txt" \
		</dev/null >"$1/syslog.ready" 2>&1 3>&- &
	SYSLOG_PID=$!
	until grep -q ready "$1/syslog.ready" 2>/dev/null; do
		(( tries-- > 0 )) || die "syslog stand-in did not start: $(
			cat "$1/syslog.ready")"
		sleep 0.05
	done
}

# devlog_reason: why devlog_exec cannot work here, or nothing if it can.
devlog_reason() {
	[ "$(id -u)" = 0 ] ||
		{ echo "needs root (mount namespace, overlay on /dev)"; \
		return; }
	local d
	d=$(mktemp -d "$BATS_FILE_TMPDIR/devlog-probe.XXXXXX")
	unshare -m sh -c 'mount -t tmpfs none "$1" && mkdir "$1/u" "$1/w" &&
		mount -t overlay none \
			-o "lowerdir=/dev,upperdir=$1/u,workdir=$1/w" /dev' \
		sh "$d" >/dev/null 2>&1 ||
		echo \
		"cannot overlay /dev in a private mount namespace (unshare -m)"
	rmdir "$d"
}

# devlog_exec DIR CMD...: exec CMD in a private mount namespace whose /dev
# is the real one plus /dev/log, bind-mounted from DIR/log.sock (see
# start_syslog).  Outside the namespace nothing changes; the mounts go away
# with its last process.
devlog_exec() {
	local dir=$1; shift
	mkdir -p "$dir/ov"
	exec unshare -m sh -ec '
		d=$1; shift
		mount -t tmpfs socks4d-test "$d/ov"
		mkdir "$d/ov/upper" "$d/ov/work"
		ov="lowerdir=/dev,upperdir=$d/ov/upper"
		mount -t overlay socks4d-test -o "$ov,workdir=$d/ov/work" /dev
		: >/dev/log
		mount --bind "$d/log.sock" /dev/log
		exec "$@"' sh "$dir" "$@"
}

# ---- the wire -------------------------------------------------------------

# hex [BYTES]: printf-escaped BYTES, or without them stdin, as lowercase hex
# digits, nothing between them (text as it is: printf %s TEXT | hex).  The
# one hex encoder of the suites: what raw prints, what replies are compared
# with.
hex() {
	if [ $# -gt 0 ]; then
		# shellcheck disable=SC2059	# BYTES are printf escapes
		printf "$1" | hex
		return
	fi
	od -An -v -tx1 | tr -d ' \n'
}

# req CD PORT IP USER [HOST]: a SOCKS4 request (SOCKS4a with HOST), as
# printf(1) escapes.
req() {
	local cd=$1 port=$2 ip=$3 user=$4 host=${5-} out o
	printf -v out '\\x04\\x%02x\\x%02x\\x%02x' "$cd" $((port >> 8)) \
		$((port & 255))
	for o in ${ip//./ }; do printf -v o '\\x%02x' "$o"; out+=$o; done
	out+="$user\\x00"
	[ -n "$host" ] && out+="$host\\x00"
	printf '%s' "$out"
}

# hex4 N: a port as the 4 hex digits of its 2 bytes on the wire.
hex4() { printf '%04x' "$1"; }

# raw CPORT PORT BYTES [SECS]: connect to 127.0.0.1:PORT from local port
# CPORT, send printf-escaped BYTES in one write, half-close, and print in
# hex every byte that comes back (nothing if none).  Ends when the server
# closes, or SECS (default 3) after the half-close.
raw() {
	local f
	f=$(mktemp "$BATS_TEST_TMPDIR/raw.XXXXXX")
	# from a file, so that socat sends it in one write (bash's printf
	# writes line by line)
	printf "$3" >"$f"
	timeout 20 socat -t "${4:-3}" - \
		"TCP:127.0.0.1:$2,sourceport=$1,reuseaddr" <"$f" | hex
}

# probe [--jobs N] [--var NAME=HEX]...: run the hostile_probe.py table on
# stdin against this file's socks4d; vars EP (echo port) and TP (trap port)
# are set. Prints one line a case; fails if any case fails.
probe() {
	local table=$BATS_TEST_TMPDIR/table.$((++PROBE_N))
	cat >"$table"
	"$PYTHON" "$BATS_TEST_DIRNAME/hostile_probe.py" --port "$SOCKS_PORT" \
		--log "$SOCKS_LOG" \
		--var "EP=$(hex4 "${ECHO_PORT:-0}")" \
		--var "TP=$(hex4 "${TRAP_PORT:-0}")" "$@" "$table"
}

# served_ok: the next client is served normally: a CONNECT to the echo
# server ($ECHO_PORT on 127.0.0.2) is granted and its bytes come back
# (a probe table row).
served_ok() {
	probe <<-'EOF'
	next client | x:0401+$EP+7f000002+'next'+00+'still-here' shut
	    | 005a+$EP+7f000002+'still-here' | eof | 0 | both sides closed
	    | 0-5000
	EOF
}

# echo_ok SOCKSPORT: the same against any socks4d port, with raw.
echo_ok() {
	local out
	out=$(raw "$(client_port)" "$1" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 next)still here\\n")
	[ "$out" = "005a$(hex4 "$ECHO_PORT")7f000002$(hex 'still here\n')" ] ||
		die "next client not served: $out"
}

# ---- SOCKS5 ---------------------------------------------------------------

# users_file FILE NAME PASSWORD...: a users file with these logins.
users_file() {
	local file=$1 name password
	shift
	: > "$file"
	while [ $# -ge 2 ]; do
		name=$1 password=$2
		shift 2
		printf '%s:%s\n' "$name" "$(openssl passwd -6 "$password")" \
			>> "$file"
	done
}

# default_users: the users file socks4d looks for without -u, as its usage
# says (the build's sysconfdir).
default_users() {
	"$SOCKS4D" -h |
		sed -n 's/^-u the users file .* (default \(.*\);$/\1/p'
}

# no_default_users CMD...: CMD in a mount namespace where the default users
# file's directory is an empty tmpfs: "no users file" on any machine.
# NO_DEFAULT_USERS: the command that runs (execs) it so, set by the first.
no_default_users() {
	NO_DEFAULT_USERS=(unshare -m bash -c '[ ! -d "$1" ] ||
		mount -t tmpfs tmpfs "$1" && shift && exec "$@"' - \
		"$(dirname "$(default_users)")")
	[ $# = 0 ] || "${NO_DEFAULT_USERS[@]}" "$@"
}

# shared_dir: a directory nobody (whom root becomes) may search, unlike
# bats' own, removed with the test's (teardown: rm -rf "$SHARED").
shared_dir() {
	SHARED=$(mktemp -d /tmp/socks4d-shared.XXXXXX)
	chmod 755 "$SHARED"
}

# S5_GREETED: Python that bind5 and udp5 run (exec) once they know port: a
# read(s, n) that waits for n bytes (or the end), and c, a connection to
# socks4d on port that has offered "no authentication" and had it chosen.
S5_GREETED=$(cat <<'PY'
def read(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            break
        b += c
    return b

c = socket.create_connection(("127.0.0.1", port), timeout=10)
c.sendall(b"\x05\x01\x00")
assert read(c, 2) == b"\x05\x00"
PY
)
export S5_GREETED

# bind5 PORT EXPECT PEER: a SOCKS5 BIND through socks4d on PORT naming EXPECT
# (0.0.0.0: anyone), then a peer connecting from PEER to the port of the
# first reply. Prints both replies in hex, then what each side received.
bind5() {
	"$PYTHON" - "$@" <<'PY'
import os, socket, sys
port, expect, peer = int(sys.argv[1]), sys.argv[2], sys.argv[3]
exec(os.environ["S5_GREETED"])
c.sendall(b"\x05\x02\x00\x01" + socket.inet_aton(expect) + b"\x00\x00")
first = read(c, 10)
print("first", first.hex())
if len(first) < 10 or first[1] != 0:
    sys.exit(0)
p = socket.socket()
p.bind((peer, 0))
p.settimeout(10)
p.connect(("127.0.0.1", int.from_bytes(first[8:10], "big")))
second = read(c, 10)
print("second", second.hex(), "peer", p.getsockname()[1])
if len(second) == 10 and second[1] == 0:
    p.sendall(b"from-peer")
    c.sendall(b"from-client")
    print("client got", read(c, 9).decode())
    print("peer got", read(p, 11).decode())
else:
    print("after", read(c, 100).hex())
PY
}

# udp5 PORT STEP...: a SOCKS5 UDP ASSOCIATE through socks4d on PORT, then
# each STEP as a datagram to the relay, "HOST:PORT:DATA" (HOST an address or
# a name; a leading "frag:" sets FRAG 1, "stranger:" sends it from
# 127.0.0.5, the client's port on another address). Prints the reply in hex,
# then
# "got HOST PORT DATA" for each answer, which come within 10 s of the
# datagrams that asked for them; steps whose answer is not awaited are
# marked with a leading "-".
udp5() {
	"$PYTHON" - "$@" <<'PY'
import os, socket, sys
port, steps = int(sys.argv[1]), sys.argv[2:]
exec(os.environ["S5_GREETED"])
c.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
reply = read(c, 10)
print("reply", reply.hex())
if len(reply) < 10 or reply[1] != 0:
    sys.exit(0)
relay = (socket.inet_ntoa(reply[4:8]), int.from_bytes(reply[8:10], "big"))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
u.settimeout(10)
awaited = 0
for step in steps:
    quiet = step.startswith("-")
    step = step.lstrip("-")
    frag = step.startswith("frag:")
    stranger = step.startswith("stranger:")
    host, dport, data = (step.split(":", 1)[1].split(":", 2)
                         if frag or stranger else step.split(":", 2))
    try:
        addr = b"\x01" + socket.inet_aton(host)
    except OSError:
        addr = b"\x03" + bytes([len(host)]) + host.encode()
    sock = u
    if stranger:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # the client's port, not its address
        sock.bind(("127.0.0.5", u.getsockname()[1]))
    sock.sendto(b"\x00\x00" + bytes([1 if frag else 0]) + addr
                + int(dport).to_bytes(2, "big") + data.encode(), relay)
    if quiet:
        continue
    d = u.recv(65535)
    assert d[:4] == b"\x00\x00\x00\x01", d
    print("got", socket.inet_ntoa(d[4:8]), int.from_bytes(d[8:10], "big"),
          d[10:].decode())
c.close()
print("relay", relay[1])
PY
}

# ---- the log --------------------------------------------------------------

# log_size FILE: where FILE ends now; log_since FILE OFFSET: what came after.
log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
log_since() { tail -c "+$(( $2 + 1 ))" "$1" 2>/dev/null; }

# recs [SEP]: socks4d's classic records on stdin, one a line, fields joined
# by SEP, '|' by default (e.g. "<S_IP> :127.0.0.1|...|<Reply> :Accept|
# <Content> :GET ...").  Only record lines are kept, so lines of concurrent
# sessions and of the super-server between them do not matter.  The one
# record parser of the shell helpers (hostile_probe.py has its own).
recs() {
	awk -v sep="${1:-|}" '
	     /^<S_IP> :/ { rec = $0; on = 1; next }
	     on && /^<[A-Za-z_]+> :/ { rec = rec sep $0 }
	     on && /^<Content> :/ { print rec; on = 0 }'
}

# record_of CPORT [LOG] [SECS]: the latest complete classic record of the
# client from local port CPORT, one field a line; waits for it.
record_of() {
	local log=${2:-$SOCKS_LOG} tries=$(( ${3:-10} * 20 )) rs=$'\036' rec
	while (( tries-- > 0 )); do
		rec=$(recs "$rs" <"$log" | grep -F -- "$rs<S_PORT> :$1$rs" |
			tail -n 1)
		[ -n "$rec" ] && { tr '\036' '\n' <<<"$rec"; return 0; }
		sleep 0.05
	done
	die "no record of client port $1 in $log"
}

# netns_new VAR: a network namespace of the test's own, loopback up, held
# by a sleep whose PID goes into VAR (exported; the test stops it).
netns_new() {
	local pid
	unshare --net sleep 3600 </dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	declare -gx "$1=$pid"
	wait_cmd 10 "no network namespace" netns_entered "$pid"
	nsenter -t "$pid" -n ip link set lo up
}

# netns_entered PID: PID is in a network namespace other than ours.
netns_entered() {
	local ns
	ns=$(readlink "/proc/$1/ns/net") &&
		[ "$ns" != "$(readlink /proc/$$/ns/net)" ]
}

# has RECORD LINE: the record (one field a line) holds exactly this line.
has() {
	grep -qxF -- "$2" <<<"$1" || die "record lacks '$2':"$'\n'"$1"
}

# wait_recs LOG OFFSET ERE N [SECS]: until LOG, after OFFSET, holds at least
# N records matching ERE (recs form); then print those records.
wait_recs() { wait_matching recs records "$@"; }

# wait_lines FILE OFFSET ERE N [SECS]: the same for plain lines (syslog).
wait_lines() { wait_matching cat lines "$@"; }

# wait_matching FORM WHAT LOG OFFSET ERE N [SECS]: the two above; FORM turns
# what LOG holds after OFFSET into the lines ERE is matched against.
wait_matching() {
	local form=$1 what=$2 log=$3 off=$4 ere=$5 n=$6 end=$((SECONDS + \
		${7:-10})) got
	while :; do
		got=$(log_since "$log" "$off" | "$form" | grep -aE -- "$ere")
		[ "$(grep -c . <<<"$got")" -ge "$n" ] &&
			{ printf '%s\n' "$got"; return 0; }
		(( SECONDS < end )) || break
		sleep 0.05
	done
	printf '%s\n' "$got"
	die "fewer than $n $what matching '$ere' in $log"
}

# wait_cmd SECS WHAT CMD...: until CMD succeeds (polled, SECS at most; a
# busy machine slows CMD itself, not the deadline's count); else die, WHAT.
wait_cmd() {
	local end=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		(( SECONDS < end )) || die "$what"
		sleep 0.1
	done
}

# conn_pid CPORT [LOG]: the PID of the socks4d that served 127.0.0.1:CPORT,
# from systemd-socket-activate's "Connection from" and "Spawned" lines.
conn_pid() {
	local log=${2:-$SOCKS_LOG} pid tries=200
	while (( tries-- > 0 )); do
		pid=$(awk -v c="Connection from 127.0.0.1:$1 " '
			index($0, c) { f = 1; pid = ""; next }
			f && / as PID [0-9]+\.$/ {
				pid = $NF; sub(/\.$/, "", pid); f = 0
			}
			END { print pid }' "$log")
		[ -n "$pid" ] && { echo "$pid"; return 0; }
		sleep 0.05
	done
	die "no socks4d spawned for client port $1 in $log"
}

# exit_code PID [LOG] [SECS]: socks4d's exit status, once it has died.
exit_code() {
	local log=${2:-$SOCKS_LOG}
	wait_for_log "$log" "^Child $1 died with code" "${3:-10}" || return 1
	sed -n "s/^Child $1 died with code \([0-9]*\).*/\1/p" "$log" | tail -1
}

# end_line PID [LOG]: socks4d's last line for a relayed session.
end_line() {
	local log=${2:-$SOCKS_LOG}
	wait_for_log "$log" "^socks4d\[$1\]: end: " || return 1
	grep "^socks4d\[$1\]: end: " "$log" | tail -1
}

# ---- health ---------------------------------------------------------------

# no_sanitizer_reports LOG: ASan/UBSan wrote nothing (the sanitizer run).
no_sanitizer_reports() {
	local re='runtime error|AddressSanitizer|LeakSanitizer'
	if grep -nE "$re|UndefinedBehaviorSanitizer" "$1"; then
		die "sanitizer reports in $1"
	fi
	return 0
}

# no_crash LOG: every socks4d the super-server reaped exited with 0, 1 or
# 3 (a failed login); anything else (6 SIGABRT, 11 SIGSEGV, 111, ...) is
# reported.
no_crash() {
	local bad
	bad=$(grep -E '^Child [0-9]+ died with code' "$1" |
		grep -vE 'died with code [013]$' || true)
	[ -z "$bad" ] || die "socks4d died badly: $bad"
}

# invariants_held: what the hostile suites check after every case: no
# socks4d left, no sanitizer report, no crash, the trap ($TRAPLOG) never
# reached, and the next client served.
invariants_held() {
	no_children 10
	no_sanitizer_reports "$SOCKS_LOG"
	no_crash "$SOCKS_LOG"
	[ ! -s "$TRAPLOG" ] ||
		die "a rejected request reached the trap: $(cat "$TRAPLOG")"
	served_ok
}

# no_children [SECS]: until this file's super-server has no child left.
no_children() {
	local tries=$(( ${1:-10} * 20 ))
	while (( tries-- > 0 )); do
		pgrep -P "$SOCKS_PID" >/dev/null || return 0
		sleep 0.05
	done
	die "socks4d processes left behind:" \
		"$(pgrep -a -P "$SOCKS_PID" | head -5)"
}

# wait_children PID N: the PIDs of PID's children, once there are N of them.
wait_children() {
	local tries=200 kids
	while (( tries-- > 0 )); do
		kids=$(pgrep -P "$1" | sort)
		if [ "$(grep -c . <<<"$kids")" -ge "$2" ]; then
			echo "$kids"
			return 0
		fi
		sleep 0.05
	done
	die "$1 has not $2 children: $kids"
}

# ---- systemd --------------------------------------------------------------

# sd CMD...: CMD where the systemd of $SD_PID runs (private_systemd.sh
# start's), or on this machine (its own systemd) if SD_PID is unset or "-".
sd() { "$BATS_TEST_DIRNAME/private_systemd.sh" run "${SD_PID:--}" "$@"; }

# skip_no_systemd: skip the test (or the file, from setup_file) where
# private_systemd.sh start failed.
skip_no_systemd() {
	skip "PID 1 is $(cat /proc/1/comm), and no private systemd would boot"
}

# ---- hw4.cgi --------------------------------------------------------------
# The servers hw4.cgi talks to, lighttpd to run it, headless Chromium to
# load it, and a reader for its page.

CGI_DIR=$TOP/hw4cgi
CGI=$CGI_DIR/hw4.cgi
CGI_SAN=$CGI_DIR/hw4-san.cgi
# What the suites ask lighttpd for: HW4_CGI_NAME=hw4-san.cgi for the
# sanitizer build.
CGI_NAME=${HW4_CGI_NAME:-hw4.cgi}
RSHELL=$TOP/test/rshell.py
FAKE_SOCKS=$TOP/test/fake_socks.py

# spawn LOG CMD...: CMD in the background, output to LOG, PID recorded so
# that stop_spawned (teardown_file) stops exactly what this file started.
spawn() {
	local log=$1; shift
	"$@" >>"$log" 2>&1 3>&- &
	echo $! >>"$BATS_FILE_TMPDIR/pids"
}

stop_spawned() {
	local pid pids=$BATS_FILE_TMPDIR/pids
	[ -f "$pids" ] || return 0
	while read -r pid; do kill "$pid" 2>/dev/null; done <"$pids"
	while read -r pid; do wait "$pid" 2>/dev/null; done <"$pids"
	rm -f "$pids"
	return 0
}

# inetd_server ADDR CMD...: CMD once per connection on ADDR:a free port,
# the connection on stdin/stdout.  Sets SRV_PORT.
inetd_server() {
	local addr=$1; shift
	SRV_PORT=$(free_port)
	spawn "$BATS_FILE_TMPDIR/servers.log" \
		systemd-socket-activate -a --inetd -l "$addr:$SRV_PORT" "$@"
	wait_for_port "$addr" "$SRV_PORT"
}

# start_open_socks4d: socks4d permitting every loopback CONNECT, stopped
# by stop_spawned with the rest.  Exports SOCKS_PORT.
start_open_socks4d() {
	printf 'permit c 127.0.0.0/8\n' >"$BATS_FILE_TMPDIR/open.conf"
	SOCKS_LOG=$BATS_FILE_TMPDIR/socks4d.log
	start_socks4d "$BATS_FILE_TMPDIR/open.conf"
	echo "$SOCKS_PID" >>"$BATS_FILE_TMPDIR/pids"
	export SOCKS_PORT
	SOCKS_PID=
}

# start_lighttpd TESTDIR TIMEOUT [ALLOW]: lighttpd with mod_cgi serving
# hw4cgi/ on 127.0.0.1, HW4_ALLOW set to ALLOW (default: loopback).
# Sets WEB (the base URL) and WEB_LOG (its error log).
start_lighttpd() {
	local port conf=$BATS_FILE_TMPDIR/lighttpd.conf
	port=$(free_port)
	WEB_LOG=$BATS_FILE_TMPDIR/lighttpd.log
	sed -e "s|@PORT@|$port|" -e "s|@DOCROOT@|$CGI_DIR|" \
	    -e "s|@ERRORLOG@|$WEB_LOG|" -e "s|@TESTDIR@|$1|" \
	    -e "s|@TIMEOUT@|$2|" -e "s|@ALLOW@|${3-127.0.0.0/8}|" \
	    "$CGI_DIR/lighttpd.conf.in" >"$conf"
	spawn "$BATS_FILE_TMPDIR/lighttpd.out" lighttpd -D -f "$conf"
	wait_for_port 127.0.0.1 "$port"
	WEB=http://127.0.0.1:$port
}

# chromium_via PROXY URL OUT [FLAG...]: headless Chromium through PROXY
# (e.g. socks4://127.0.0.1:PORT or http://127.0.0.1:PORT), loopback too,
# with any further FLAGs (--ignore-certificate-errors); the DOM goes to
# OUT, Chromium's messages to OUT.err.  Chromium exits 0 even when the
# page fails to load: callers look at OUT.
chromium_via() {
	local profile
	profile=$(mktemp -d "$BATS_TEST_TMPDIR/chromium.XXXXXX")
	timeout -k 5 45 chromium --headless --no-sandbox --disable-gpu \
		--disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync \
		--user-data-dir="$profile" --proxy-server="$1" \
		--proxy-bypass-list='<-loopback>' "${@:4}" \
		--dump-dom "$2" </dev/null >"$3" 2>"$3.err" 3>&-
	rm -rf "$profile"
}

# chromium_dom URL: the DOM after the page has loaded (its scripts ran).
chromium_dom() {
	local profile
	profile=$(mktemp -d "$BATS_FILE_TMPDIR/chromium.XXXXXX")
	timeout 90 chromium --headless --no-sandbox --disable-gpu \
		--disable-quic \
		--no-first-run --disable-background-networking \
		--disable-component-update --disable-sync \
		--user-data-dir="$profile" --dump-dom "$1" \
		2>>"$BATS_FILE_TMPDIR/chromium.log"
}

# column SRC FILE ROW MODE: one session's column of hw4.cgi's page.
#   SRC  page: the CGI's raw output (the pane is built by its <script>
#        chunks); dom: Chromium's DOM dump (the pane as the browser has it)
#   MODE text: as shown, <br> as a newline, markup dropped
#        shell: only what the shell sent (commands and notes left out)
#        cmds: the commands sent (shown in bold), one a line
#        notes: the CGI's own notes (errors, "connection closed")
column() {
	"$PYTHON" -c "$COLUMN_PY" "$@"
}

COLUMN_PY='
import html.parser, re, sys
src, path, row, mode = sys.argv[1:5]
doc = open(path, encoding="utf-8", errors="strict").read()
if src == "page":
    frag = "".join(re.sub(r"\\(.)", r"\1", m.group(1)) for m in
                   re.finditer(r"<script>a\(" + row
                               + r",\"((?:[^\"\\]|\\.)*)\"\)</script>", doc))
    doc = "<div id=\"s" + row + "\">" + frag + "</div>"

class Column(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inside, self.tags, self.out, self.skip_br = False, [], [], False
    def handle_starttag(self, tag, attrs):
        if tag == "div" and ("id", "s" + row) in attrs:
            self.inside = True
        elif self.inside and tag == "br":
            if self.skip_br:
                self.skip_br = False
            elif not self.tags or mode == "text":
                self.out.append("\n")
        elif self.inside and tag in ("b", "div"):
            self.tags.append(tag)
    def handle_endtag(self, tag):
        if self.inside and tag == "div" and not self.tags:
            self.inside = False
        elif self.inside and tag in ("b", "div") and self.tags:
            self.tags.pop()
            self.skip_br = tag == "b" and mode != "text"
            if mode == "text" and tag == "div" or mode in ("cmds", "notes"):
                self.out.append("\n")
    def handle_data(self, data):
        if not self.inside:
            return
        self.skip_br = False
        t = self.tags[-1] if self.tags else None
        if (mode == "text" or (mode == "shell" and t is None) or
                (mode == "cmds" and t == "b") or
                (mode == "notes" and t == "div")):
            self.out.append(data)

p = Column()
p.feed(doc)
p.close()
out = "".join(p.out)
if mode in ("cmds", "notes"):
    out = "".join(l + "\n" for l in out.split("\n") if l)
sys.stdout.write(out)
'

# arrival_times URL: fetch with curl -N; print when (seconds from the
# start) the first session chunk arrived, when each command was shown, and
# when the page ended, as shell assignments.
arrival_times() {
	"$PYTHON" - "$1" <<'PY'
import re, subprocess, sys, time
t0 = time.monotonic()
curl = subprocess.Popen(["curl", "-sN", sys.argv[1]], stdout=subprocess.PIPE)
first = None
cmds = []
for line in curl.stdout:
    t = time.monotonic() - t0
    if first is None and line.startswith(b"<script>a("):
        first = t
    if b"<b>" in line:
        cmds.append("%.3f" % t)
end = time.monotonic() - t0
curl.wait()
print("first=%.3f end=%.3f cmds=(%s)"
      % (first if first is not None else -1, end, " ".join(cmds)))
PY
}

# is_page FILE: a whole hw4.cgi page (as the CGI printed it, or with
# curl's HTTP status line first): a text/html header, then HTML that ends.
is_page() {
	sed -e '/^\r\{0,1\}$/q' "$1" | grep -qi '^Content-Type: text/html' ||
		die "$1: no Content-Type: text/html header"
	[ "$(tail -n 1 "$1")" = "</body></html>" ] ||
		die "$1: does not end with </body></html>"
	grep -q '^<!DOCTYPE html>$' "$1" || die "$1: no doctype"
}

# run_cgi QUERY [ENV=VALUE...]: the ASan+UBSan build run directly, as a web
# server would, HW4_ALLOW letting it reach all of loopback unless ENV says
# otherwise; page in $CGI_OUT, stderr in $CGI_ERR, status in $CGI_STATUS.
run_cgi() {
	local q=$1; shift
	CGI_OUT=$BATS_TEST_TMPDIR/page.html
	CGI_ERR=$BATS_TEST_TMPDIR/stderr
	CGI_STATUS=0
	env QUERY_STRING="$q" REQUEST_METHOD=GET HW4_TEST_DIR="$TESTDIR" \
		HW4_ALLOW=127.0.0.0/8 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98 \
		"$@" timeout 60 "$CGI_SAN" >"$CGI_OUT" 2>"$CGI_ERR" ||
		CGI_STATUS=$?
}

# cgi_clean: the direct run exited 0 with nothing on stderr (no sanitizer
# report) and printed a whole page.
cgi_clean() {
	[ "$CGI_STATUS" -eq 0 ] ||
		die "hw4-san.cgi exited $CGI_STATUS: $(head -c 2000 "$CGI_ERR")"
	[ ! -s "$CGI_ERR" ] ||
		die "hw4-san.cgi wrote to stderr: $(head -c 2000 "$CGI_ERR")"
	is_page "$CGI_OUT"
}
