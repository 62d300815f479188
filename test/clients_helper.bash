# Helpers for clients.bats, superservers.bats and haproxy.bats, on top of
# test_helper.bash: more peers on loopback, socks4d's classic records one a
# line, log positions, raw SOCKS4 requests, and a private /dev/log for the
# super-servers that hand socks4d the client as fd 2 (inetd, xinetd).

load test_helper
bats_require_minimum_version 1.5.0

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

# listens PID ADDR PORT: PID holds a listening TCP socket on ADDR:PORT.
listens() {
	local want inode a b c d
	IFS=. read -r a b c d <<<"$2"
	printf -v want '%02X%02X%02X%02X:%04X' "$d" "$c" "$b" "$a" "$3"
	inode=$(awk -v w="$want" '$2 == w && $4 == "0A" { print $10; exit }' /proc/net/tcp)
	[ -n "$inode" ] && find "/proc/$1/fd" -lname "socket:\[$inode\]" 2>/dev/null | grep -q .
}

# with_port CMD... PORT: exec CMD with each @PORT@ in its words replaced.
with_port() {
	local port=${*: -1} a args=()
	for a in "${@:1:$#-1}"; do args+=("${a//@PORT@/$port}"); done
	exec "${args[@]}"
}

# start_socks4d_as NAME CONF [ARGS...]: socks4d under systemd-socket-activate
# --inetd (the stand-in for Accept=yes), log in $BATS_FILE_TMPDIR/NAME.log;
# sets NAME_PORT, NAME_PID, NAME_LOG (exported).
start_socks4d_as() {
	local name=$1 conf=$2
	shift 2
	declare -gx "${name}_LOG=$BATS_FILE_TMPDIR/$name.log"
	serve "$name" 127.0.0.1 "$BATS_FILE_TMPDIR/$name.log" with_port \
		systemd-socket-activate -a --inetd -l 127.0.0.1:@PORT@ "$SOCKS4D" -c "$conf" "$@"
}

# start_web NAME ADDR DIR: Python's http.server for DIR on ADDR; its access
# log is $BATS_FILE_TMPDIR/http.log.  Sets NAME_PORT, NAME_PID.
start_web() {
	serve "$1" "$2" "$BATS_FILE_TMPDIR/http.log" with_port \
		"$PYTHON" -m http.server --bind "$2" --directory "$3" @PORT@
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
		"$PYTHON" -m pyftpdlib -i "$1" -p @PORT@ -w -d "$2" -u tester -P secret
}


# log_size FILE: where FILE ends now; log_since FILE OFFSET: what came after.
log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
log_since() { tail -c "+$(( $2 + 1 ))" "$1" 2>/dev/null; }

# recs: socks4d's classic records on stdin, one a line, fields joined by
# '|' (e.g. "<S_IP> :127.0.0.1|...|<Reply> :Accept|<Content> :GET ...").
# Only record lines are kept, so lines of concurrent sessions and of the
# super-server between them do not matter.
recs() {
	awk '/^<S_IP> :/ { rec = $0; on = 1; next }
	     on && /^<[A-Za-z_]+> :/ { rec = rec "|" $0 }
	     on && /^<Content> :/ { print rec; on = 0 }'
}

# wait_recs LOG OFFSET ERE N [SECS]: until LOG, after OFFSET, holds at least
# N records matching ERE; then print those records.
wait_recs() {
	local log=$1 off=$2 ere=$3 n=$4 end=$((SECONDS + ${5:-10})) got
	while :; do
		got=$(log_since "$log" "$off" | recs | grep -E -- "$ere")
		[ "$(grep -c . <<<"$got")" -ge "$n" ] && { printf '%s\n' "$got"; return 0; }
		(( SECONDS < end )) || break
		sleep 0.05
	done
	printf '%s\n' "$got"
	die "fewer than $n records matching '$ere' in $log"
}

# wait_lines FILE OFFSET ERE N [SECS]: the same for plain lines (syslog).
wait_lines() {
	local file=$1 off=$2 ere=$3 n=$4 end=$((SECONDS + ${5:-10})) got
	while :; do
		got=$(log_since "$file" "$off" | grep -aE -- "$ere")
		[ "$(grep -c . <<<"$got")" -ge "$n" ] && { printf '%s\n' "$got"; return 0; }
		(( SECONDS < end )) || break
		sleep 0.05
	done
	printf '%s\n' "$got"
	die "fewer than $n lines matching '$ere' in $file"
}

# socks4_bytes CD PORT IP USER: a SOCKS4 request, as printf(1) escapes.
socks4_bytes() {
	local out o
	printf -v out '\\x04\\x%02x\\x%02x\\x%02x' "$1" $(($2 >> 8)) $(($2 & 255))
	for o in ${3//./ }; do printf -v o '\\x%02x' "$o"; out+=$o; done
	printf '%s' "$out$4\\x00"
}

# hex BYTES: printf-escaped BYTES in hex, as raw_session prints them.
hex() { printf "$1" | od -An -tx1 | tr -d ' \n'; }

# pick_cport: a local port for a client, below the ephemeral range and in
# no socket now, so its session can be found in a log by source port.
pick_cport() {
	local p h
	while :; do
		p=$((20000 + RANDOM % 12000))
		printf -v h ':%04X ' "$p"
		grep -qF "$h" /proc/net/tcp /proc/net/tcp6 2>/dev/null || break
	done
	echo "$p"
}

# raw_session CPORT PORT BYTES: connect to 127.0.0.1:PORT from local port
# CPORT, send printf-escaped BYTES in one write, half-close, and print in hex
# every byte that comes back until the server closes.
raw_session() {
	local f
	f=$(mktemp "$BATS_TEST_TMPDIR/raw.XXXXXX")
	printf "$3" >"$f"
	timeout 20 socat -t 5 - "TCP:127.0.0.1:$2,sourceport=$1,reuseaddr" <"$f" |
		od -An -tx1 | tr -d ' \n'
}

# start_syslog DIR: a stand-in syslog daemon: a unix datagram socket
# DIR/log.sock (mode 0666: socks4d may run as nobody) whose datagrams go to
# DIR/syslog.txt, one a line.  Sets SYSLOG_PID.
start_syslog() {
	mkdir -p "$1"
	: >"$1/syslog.txt"
	"$PYTHON" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as f:
    print("ready", flush=True)
    while True:
        f.write(s.recv(65536).rstrip(b"\n") + b"\n")
' "$1/log.sock" "$1/syslog.txt" </dev/null >"$1/syslog.ready" 2>&1 3>&- &
	SYSLOG_PID=$!
	local tries=200
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
