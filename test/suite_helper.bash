# Helpers shared by connect.bats, firewall.bats, requests.bats and
# logging.bats, on top of test_helper.bash: raw requests, and
# finding one connection's record, end line and exit status in $SOCKS_LOG.

load test_helper
bats_require_minimum_version 1.5.0

CLIENT="$PYTHON $BATS_TEST_DIRNAME/socks4_client.py"

# req CD PORT IP USER [HOST]: a SOCKS4 request as printf(1) escapes.
req() {
	local cd=$1 port=$2 ip=$3 user=$4 host=${5-} out o
	printf -v out '\\x04\\x%02x\\x%02x\\x%02x' "$cd" $((port >> 8)) $((port & 255))
	for o in ${ip//./ }; do printf -v o '\\x%02x' "$o"; out+=$o; done
	out+="$user\\x00"
	[ -n "$host" ] && out+="$host\\x00"
	printf '%s' "$out"
}

# client_port: a local port for a client, so that its connection can be
# found in the log by source port; also below the ephemeral range.
client_port() { pick_port 20000 12000; }

# raw CPORT SOCKSPORT BYTES [SECS]: send printf-escaped BYTES from local port
# CPORT, half-close, print everything that comes back in hex (empty if
# nothing).  Ends when socks4d closes, or SECS (default 3) after the
# half-close.
raw() {
	local f
	f=$(mktemp "$BATS_TEST_TMPDIR/raw.XXXXXX")
	# from a file, so that socat sends it in one write (bash's printf
	# writes line by line)
	printf "$3" > "$f"
	timeout 20 socat -t "${4:-3}" - "TCP:127.0.0.1:$2,sourceport=$1,reuseaddr" < "$f" |
		od -An -tx1 | tr -d ' \n'
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

# record_of CPORT [LOG]: the classic record of the client from CPORT.
record_of() {
	local log=${2:-$SOCKS_LOG}
	wait_for_log "$log" "^<S_PORT> :$1\$" || return 1
	awk -v p="<S_PORT> :$1" '
		/^<S_IP> :/ { blk = $0 "\n"; inrec = 1; next }
		inrec { blk = blk $0 "\n" }
		inrec && /^<Content> :/ { inrec = 0; if (index(blk, "\n" p "\n")) last = blk }
		END { printf "%s", last }' "$log"
}

# end_line PID [LOG]: socks4d's last line for a relayed session.
end_line() {
	local log=${2:-$SOCKS_LOG}
	wait_for_log "$log" "^socks4d\[$1\]: end: " || return 1
	grep "^socks4d\[$1\]: end: " "$log" | tail -1
}

# echo_ok SOCKSPORT: the server still serves: a CONNECT to the echo peer
# ($ECHO_PORT on 127.0.0.2) is granted and relays both ways.
echo_ok() {
	local out
	out=$(raw "$(client_port)" "$1" "$(req 1 "$ECHO_PORT" 127.0.0.2 next)still here\\n")
	[ "$out" = "005a$(printf '%04x' "$ECHO_PORT")7f000002$(printf 'still here\n' | od -An -tx1 | tr -d ' \n')" ] ||
		die "next client not served: $out"
}

