# The one helper library of the bats suites (`load test_helper`), in sections:
#   basics       the binary, failing, ports, waiting, stopping
#   servers      socks4d, destination peers, web/echo/FTP servers, syslog
#   the wire     SOCKS4 requests as bytes, raw clients, hex, the probe table
#   the log      records, end lines, exit codes, what a log gained
#   health       sanitizer reports, crashes, processes left behind
# Every server a test starts listens on loopback, on a free port, and is
# stopped by the test file that started it.

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
		grep -qF "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null || break
	done
	echo "$p"
}

# free_port: a port for a server. Below the ephemeral range (32768 and up),
# so no outgoing connection (the load tests make thousands) can take it
# between this check and the server's bind.
free_port() { pick_port 10000 10000; }

# client_port: a local port for a client, so that its connection can be
# found in a log by source port; also below the ephemeral range, and apart
# from the servers' range.  pick_cport is its older name.
client_port() { pick_port 20000 12000; }
pick_cport() { client_port; }

# kill_pids PID...: stop and reap each process this test file started.
kill_pids() {
	local p
	for p in "$@"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	return 0
}

# wait_for_port HOST PORT [SECONDS]: until something accepts there.
wait_for_port() {
	local host=$1 port=$2 tries=$(( ${3:-10} * 20 ))
	while (( tries-- > 0 )); do
		if "$PYTHON" - "$host" "$port" <<'PY' 2>/dev/null; then return 0; fi
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
	inode=$(awk -v w="$want" '$2 == w && $4 == "0A" { print $10; exit }' "$table")
	[ -n "$inode" ] && find "/proc/$1/fd" -lname "socket:\[$inode\]" 2>/dev/null | grep -q .
}

# ---- servers --------------------------------------------------------------

# serve NAME ADDR LOG FUNC [ARGS...]: a server on a free port of ADDR:
# FUNC ARGS... PORT runs in the background, stdin /dev/null, stdout and
# stderr appended to LOG, and must exec the server (so that its PID is the
# listener's).  If the server dies before it listens (someone took the port
# meanwhile: free_port can only say what was free), it is started again on
# another port.  Sets and exports NAME_PORT, NAME_PID.  The starters below
# call it as _serve: a suite may define a serve of its own
# (hw4cgi_servers.bats does).
serve() { _serve "$@"; }
_serve() {
	local name=$1 addr=$2 log=$3 port pid try end
	shift 3
	for try in 1 2 3 4 5; do
		port=$(free_port)
		"$@" "$port" </dev/null >>"$log" 2>&1 3>&- &
		pid=$!
		end=$((SECONDS + 10))
		while kill -0 "$pid" 2>/dev/null && (( SECONDS < end )); do
			if listens "$pid" "$addr" "$port"; then
				declare -gx "${name}_PORT=$port" "${name}_PID=$pid"
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
	_serve "$name" 127.0.0.1 "${!log_var}" with_port \
		systemd-socket-activate -a --inetd -l 127.0.0.1:@PORT@ "$SOCKS4D" -c "$conf" "$@"
}

# start_socks4d CONF [ARGS...]: the same as SOCKS, log by default
# $BATS_FILE_TMPDIR/socks4d.log. Sets SOCKS_PORT, SOCKS_PID, SOCKS_LOG.
start_socks4d() {
	SOCKS_LOG=${SOCKS_LOG:-$BATS_FILE_TMPDIR/socks4d.log}
	start_socks4d_as SOCKS "$@"
}

stop_socks4d() {
	[ -n "${SOCKS_PID:-}" ] && kill "$SOCKS_PID" 2>/dev/null && wait "$SOCKS_PID" 2>/dev/null
	SOCKS_PID=
	return 0
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
	"$PYTHON" "$BATS_TEST_DIRNAME/peer.py" "$mode" "$addr" "$port" --ready "$ready" "$@" \
		</dev/null >/dev/null 2>>"$BATS_FILE_TMPDIR/peer.log" 3>&- &
	declare -gx "${name}_PID=$!" "${name}_PORT=$port"
	while [ ! -s "$ready" ] && (( tries-- > 0 )); do sleep 0.05; done
	[ -s "$ready" ] || die "$mode peer on $addr:$port did not start: $(tail -5 "$BATS_FILE_TMPDIR/peer.log")"
}

# start_web NAME ADDR DIR: Python's http.server for DIR on ADDR; its access
# log is $BATS_FILE_TMPDIR/http.log.  Sets NAME_PORT, NAME_PID.
start_web() {
	_serve "$1" "$2" "$BATS_FILE_TMPDIR/http.log" with_port \
		"$PYTHON" -m http.server --bind "$2" --directory "$3" @PORT@
}

# start_http ADDR DIR: start_web as HTTP; also sets HTTP_ADDR.
start_http() {
	export HTTP_ADDR=$1
	start_web HTTP "$1" "$2"
}

stop_http() {
	[ -n "${HTTP_PID:-}" ] && kill "$HTTP_PID" 2>/dev/null && wait "$HTTP_PID" 2>/dev/null
	HTTP_PID=
	return 0
}

# start_echo ADDR: a TCP echo server (socat, one cat per client) on ADDR.
# Sets ECHO_PORT, ECHO_PID.
start_echo() {
	_serve ECHO "$1" "$BATS_FILE_TMPDIR/echo.log" with_port \
		socat "TCP-LISTEN:@PORT@,bind=$1,reuseaddr,fork" EXEC:cat
}

# start_ftpd ADDR DIR: pyftpdlib on ADDR serving DIR, user tester/secret.
# Sets FTP_PORT, FTP_PID, FTP_LOG.
start_ftpd() {
	export FTP_LOG=$BATS_FILE_TMPDIR/ftpd.log
	_serve FTP "$1" "$FTP_LOG" with_port \
		"$PYTHON" -m pyftpdlib -i "$1" -p @PORT@ -w -d "$2" -u tester -P secret
}

# start_syslog DIR [SOCKET]: a stand-in syslog daemon (syslog_listener.py):
# a unix datagram socket, DIR/log.sock unless SOCKET is given, whose
# datagrams go to DIR/syslog.txt, one a line.  Sets SYSLOG_PID.
start_syslog() {
	local sock=${2:-$1/log.sock} tries=200
	mkdir -p "$1"
	: >"$1/syslog.txt"
	rm -f "$1/syslog.ready"
	"$PYTHON" "$BATS_TEST_DIRNAME/syslog_listener.py" "$sock" "$1/syslog.txt" \
		</dev/null >"$1/syslog.ready" 2>&1 3>&- &
	SYSLOG_PID=$!
	until grep -q ready "$1/syslog.ready" 2>/dev/null; do
		(( tries-- > 0 )) || die "syslog stand-in did not start: $(cat "$1/syslog.ready")"
		sleep 0.05
	done
}

# devlog_reason: why devlog_exec cannot work here, or nothing if it can.
devlog_reason() {
	[ "$(id -u)" = 0 ] || { echo "needs root (mount namespace, overlay on /dev)"; return; }
	local d
	d=$(mktemp -d "$BATS_FILE_TMPDIR/devlog-probe.XXXXXX")
	unshare -m sh -c 'mount -t tmpfs none "$1" && mkdir "$1/u" "$1/w" &&
		mount -t overlay none -o "lowerdir=/dev,upperdir=$1/u,workdir=$1/w" /dev' \
		sh "$d" >/dev/null 2>&1 ||
		echo "cannot overlay /dev in a private mount namespace (unshare -m)"
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
		mount -t overlay socks4d-test \
			-o "lowerdir=/dev,upperdir=$d/ov/upper,workdir=$d/ov/work" /dev
		: >/dev/log
		mount --bind "$d/log.sock" /dev/log
		exec "$@"' sh "$dir" "$@"
}

# ---- the wire -------------------------------------------------------------

# req CD PORT IP USER [HOST]: a SOCKS4 request (SOCKS4a with HOST), as
# printf(1) escapes.  socks4_bytes is its older name.
req() {
	local cd=$1 port=$2 ip=$3 user=$4 host=${5-} out o
	printf -v out '\\x04\\x%02x\\x%02x\\x%02x' "$cd" $((port >> 8)) $((port & 255))
	for o in ${ip//./ }; do printf -v o '\\x%02x' "$o"; out+=$o; done
	out+="$user\\x00"
	[ -n "$host" ] && out+="$host\\x00"
	printf '%s' "$out"
}
socks4_bytes() { req "$@"; }

# hex BYTES: printf-escaped BYTES in hex, as raw prints them.
hex() { printf "$1" | od -An -tx1 | tr -d ' \n'; }

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
	timeout 20 socat -t "${4:-3}" - "TCP:127.0.0.1:$2,sourceport=$1,reuseaddr" <"$f" |
		od -An -tx1 | tr -d ' \n'
}

# raw_session CPORT PORT BYTES: raw with 5 s after the half-close.
raw_session() { raw "$1" "$2" "$3" 5; }

# probe [--jobs N] [--var NAME=HEX]...: run the hostile_probe.py table on
# stdin against this file's socks4d; vars EP (echo port) and TP (trap port)
# are set. Prints one line a case; fails if any case fails.
probe() {
	local table=$BATS_TEST_TMPDIR/table.$((++PROBE_N))
	cat >"$table"
	"$PYTHON" "$BATS_TEST_DIRNAME/hostile_probe.py" --port "$SOCKS_PORT" --log "$SOCKS_LOG" \
		--var "EP=$(hex4 "${ECHO_PORT:-0}")" --var "TP=$(hex4 "${TRAP_PORT:-0}")" "$@" "$table"
}

# served_ok: the next client is served normally: a CONNECT to the echo
# server ($ECHO_PORT on 127.0.0.2) is granted and its bytes come back
# (a probe table row).
served_ok() {
	probe <<-'EOF'
	next client | x:0401+$EP+7f000002+'next'+00+'still-here' shut | 005a+$EP+7f000002+'still-here' | eof | 0 | both sides closed | 0-5000
	EOF
}

# echo_ok SOCKSPORT: the same against any socks4d port, with raw.
echo_ok() {
	local out
	out=$(raw "$(client_port)" "$1" "$(req 1 "$ECHO_PORT" 127.0.0.2 next)still here\\n")
	[ "$out" = "005a$(hex4 "$ECHO_PORT")7f000002$(hex 'still here\n')" ] ||
		die "next client not served: $out"
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
		rec=$(recs "$rs" <"$log" | grep -F -- "$rs<S_PORT> :$1$rs" | tail -n 1)
		[ -n "$rec" ] && { tr '\036' '\n' <<<"$rec"; return 0; }
		sleep 0.05
	done
	die "no record of client port $1 in $log"
}

# wait_recs LOG OFFSET ERE N [SECS]: until LOG, after OFFSET, holds at least
# N records matching ERE (recs form); then print those records.
wait_recs() { wait_matching recs records "$@"; }

# wait_lines FILE OFFSET ERE N [SECS]: the same for plain lines (syslog).
wait_lines() { wait_matching cat lines "$@"; }

# wait_matching FORM WHAT LOG OFFSET ERE N [SECS]: the two above; FORM turns
# what LOG holds after OFFSET into the lines ERE is matched against.
wait_matching() {
	local form=$1 what=$2 log=$3 off=$4 ere=$5 n=$6 end=$((SECONDS + ${7:-10})) got
	while :; do
		got=$(log_since "$log" "$off" | "$form" | grep -aE -- "$ere")
		[ "$(grep -c . <<<"$got")" -ge "$n" ] && { printf '%s\n' "$got"; return 0; }
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
			f && / as PID [0-9]+\.$/ { pid = $NF; sub(/\.$/, "", pid); f = 0 }
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
	if grep -nE 'runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer' "$1"; then
		die "sanitizer reports in $1"
	fi
	return 0
}

# no_crash LOG: every socks4d the super-server reaped exited with 0 or 1;
# anything else (6 SIGABRT, 11 SIGSEGV, 111, ...) is reported.
no_crash() {
	local bad
	bad=$(grep -E '^Child [0-9]+ died with code' "$1" | grep -vE 'died with code [01]$' || true)
	[ -z "$bad" ] || die "socks4d died badly: $bad"
}

# children: how many processes this file's super-server has running now.
children() { pgrep -P "$SOCKS_PID" | wc -l; }

# no_children [SECS]: until the super-server has no child left.
no_children() {
	local tries=$(( ${1:-10} * 20 ))
	while (( tries-- > 0 )); do
		[ "$(children)" = 0 ] && return 0
		sleep 0.05
	done
	die "socks4d processes left behind: $(pgrep -a -P "$SOCKS_PID" | head -5)"
}
