#!/usr/bin/env bats
# socks4d under each super-server it documents, with curl through it:
# systemd-socket-activate in inetd style (Accept=yes, StandardInput=socket)
# and in fd-3 style (LISTEN_FDS), ucspi-tcp's tcpserver, xinetd with the
# block from inetd.conf.example, Debian's openbsd-inetd with its line; the
# units under systemd-analyze verify and security (systemd.bats runs them
# under systemd itself).
#
# inetd and xinetd give socks4d the client as fds 0, 1 and 2: these tests
# prove that no log byte reaches the client and that the record goes to
# syslog.  This machine has no syslog daemon, so each runs in a private mount
# namespace whose /dev/log is a test-owned socket (devlog_exec).  They run
# socks4d as "nobody", as the examples do (inetd itself runs as nobody too),
# so socks.conf lives in a world-readable directory of its own.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www"
	export MARKER="superserver page $RANDOM$RANDOM"
	printf '<html><body>%s</body></html>\n' "$MARKER" >"$d/www/index.html"
	start_web HTTP 127.0.0.2 "$d/www"
	start_echo 127.0.0.2

	export CONF_DIR CONF
	CONF_DIR=$(mktemp -d /tmp/socks4d-superservers.XXXXXX)
	chmod 755 "$CONF_DIR"
	CONF=$CONF_DIR/socks.conf
	printf 'permit c 127.0.0.2\n' >"$CONF"
	chmod 644 "$CONF"

	# systemd-socket-activate, inetd style: the client on stdin and stdout.
	start_socks4d_as SA "$CONF"

	# systemd-socket-activate without --inetd: LISTEN_FDS=1, the client as
	# fd 3, stdin not a socket.
	export FD3_LOG=$d/fd3.log
	serve FD3 127.0.0.1 "$FD3_LOG" with_port \
		systemd-socket-activate -a -l 127.0.0.1:@PORT@ "$SOCKS4D" \
		-c "$CONF"

	# tcpserver, as root: socks4d drops to nobody itself.
	export TCPS_LOG=$d/tcpserver.log
	serve TCPS 127.0.0.1 "$TCPS_LOG" with_port \
		tcpserver -HRl0 127.0.0.1 @PORT@ "$SOCKS4D" -c "$CONF"

	export NS_SKIP INETD_MISSING XSYS=$d/xinetd ISYS=$d/inetd
	NS_SKIP=$(devlog_reason)
	if [ -z "$NS_SKIP" ]; then
		start_syslog "$XSYS"
		export XINETD_SYSLOG_PID=$SYSLOG_PID
		serve XINETD 127.0.0.1 "$XSYS/xinetd.out" run_xinetd
		INETD_MISSING=$(openbsd_inetd "$CONF_DIR/openbsd-inetd") || true
		if [ -z "$INETD_MISSING" ]; then
			start_syslog "$ISYS"
			export INETD_SYSLOG_PID=$SYSLOG_PID
			serve INETD 127.0.0.1 "$ISYS/inetd.out" \
				run_openbsd_inetd
		fi
	fi
}

teardown_file() {
	kill_pids "${SA_PID:-}" "${FD3_PID:-}" "${TCPS_PID:-}" \
		"${XINETD_PID:-}" "${INETD_PID:-}" \
		"${XINETD_SYSLOG_PID:-}" "${INETD_SYSLOG_PID:-}" \
		"${HTTP_PID:-}" "${ECHO_PID:-}"
	[ -n "${CONF_DIR:-}" ] && rm -rf "$CONF_DIR"
	return 0
}

# run_xinetd PORT: xinetd in the foreground with the block from
# inetd.conf.example on PORT, socks4d from this tree.
run_xinetd() {
	sed -n '/^# service socks4d/,/^# }/s/^# //p' "$TOP/inetd.conf.example" |
		sed -E "s|^(\s*port\s*=\s*).*|\1$1|
			s|^(\s*server\s*=\s*).*|\1$SOCKS4D|
			s|/usr/local/etc/socks.conf|$CONF|" >"$XSYS/xinetd.conf"
	devlog_exec "$XSYS" xinetd -dontfork -f "$XSYS/xinetd.conf"
}

# openbsd_inetd DIR: Debian's openbsd-inetd unpacked into DIR, without
# installing it (it conflicts with xinetd): the .deb that make's deps step
# put in ~/.cache/socks4d-test (or apt's cache has).  A test run downloads
# nothing: without the .deb, prints why and fails.
openbsd_inetd() {
	local cache=${XDG_CACHE_HOME:-$HOME/.cache}/socks4d-test deb
	deb=$(ls /var/cache/apt/archives/openbsd-inetd_*.deb \
		"$cache"/openbsd-inetd_*.deb 2>/dev/null | tail -n 1)
	[ -n "$deb" ] ||
		{ echo \
		"no openbsd-inetd .deb in $cache: run 'make test-deps' first"; \
		return 1; }
	dpkg -x "$deb" "$1" && [ -x "$1/usr/sbin/inetd" ] ||
		{ echo "cannot unpack $deb"; return 1; }
}

# run_openbsd_inetd PORT: inetd -d (foreground) with the line from
# inetd.conf.example on PORT.  It runs unprivileged, as nobody, the user its
# line names: on a high port it needs no root (the namespace around it does).
run_openbsd_inetd() {
	grep -v '^#' "$TOP/inetd.conf.example" | grep . |
		awk -F'\t' -v OFS='\t' -v port="$1" -v bin="$SOCKS4D" \
		-v conf="$CONF" '
			{ sub(/:[0-9]+$/, ":" port, $1); $6 = bin
			  sub(/\/usr\/local\/etc\/socks.conf/, conf, $7)
			  print }' \
		>"$CONF_DIR/inetd.conf"
	chmod 644 "$CONF_DIR/inetd.conf"
	devlog_exec "$ISYS" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$CONF_DIR/openbsd-inetd/usr/sbin/inetd" \
		-d "$CONF_DIR/inetd.conf"
}

# curl_through PORT: curl --socks4 to the page through PORT from a known
# local port; sets CPORT.
curl_through() {
	CPORT=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$CPORT" \
		--socks4 "127.0.0.1:$1" \
		"http://127.0.0.2:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]] || die "not the page: $output"
}

# classic_record_ok LOG: the record of $CPORT's session on LOG is the
# classic multi-line one, and the session ended well.
classic_record_ok() {
	local ere="^<S_IP> :127\.0\.0\.1\|<S_PORT> :$CPORT\|"
	ere+="<D_IP> :127\.0\.0\.2\|<D_PORT> :$HTTP_PORT\|<Command> :CONNECT\|"
	ere+="<Reply> :Accept\|<Content> :GET / HTTP/1\.1\\\\r\\\\n"
	run -0 wait_recs "$1" 0 "$ere" 1
	ere='^socks4d\[[0-9]+\]: end: [0-9]+ bytes to client,'
	run -0 wait_lines "$1" 0 \
		"$ere"' [0-9]+ from client, .*, both sides closed$' 1
}

# syslog_record_ok FILE: the record of $CPORT's session is one line on
# syslog, facility daemon, and so is its end.
syslog_record_ok() {
	local pid re
	re="^<30>.* socks4d\[[0-9]+\]: CONNECT 127\.0\.0\.1:$CPORT ->"
	re+=" 127\.0\.0\.2:$HTTP_PORT user \"[^\"]*\": Accept,"
	re+=" content \"GET / HTTP/1\.1\\\\r\\\\n"
	run -0 wait_lines "$1" 0 "$re" 1
	pid=$(sed -E 's/.* socks4d\[([0-9]+)\]: .*/\1/' <<<"$output")
	re="^<30>.* socks4d\[$pid\]: end: [0-9]+ bytes to client,"
	re+=" [0-9]+ from client, .*, both sides closed$"
	run -0 wait_lines "$1" 0 "$re" 1
}

# no_log_to_client PORT SYSLOG OUTFILES...: four sessions where the client
# is fd 2, and what each client receives, byte for byte: a relayed session
# gets the 8-byte reply and the echo, a rejected one the 8-byte reply, a
# non-SOCKS4 one and one cut short nothing.  Their records are on syslog;
# neither syslog nor the super-server's own output has a multi-line record.
no_log_to_client() {
	local port=$1 sys=$2 c off p4 re
	local ok='^<30>.* socks4d\[[0-9]+\]:' no='^<29>.* socks4d\[[0-9]+\]:'
	shift 2
	p4=$(hex4 "$ECHO_PORT")

	c=$(client_port) off=$(log_size "$sys")
	run -0 raw "$c" "$port" "$(req 1 "$ECHO_PORT" 127.0.0.2 fd2)ping\\n" 5
	[ "$output" = "005a${p4}7f000002$(hex 'ping\n')" ]
	re="$ok CONNECT 127\.0\.0\.1:$c -> 127\.0\.0\.2:$ECHO_PORT"
	run -0 wait_lines "$sys" "$off" \
		"$re user \"fd2\": Accept, content \"ping\\\\n\"$" 1
	re="$ok end: 5 bytes to client, 5 from client,"
	run -0 wait_lines "$sys" "$off" "$re .*, both sides closed$" 1

	c=$(client_port) off=$(log_size "$sys")
	run -0 raw "$c" "$port" "$(req 1 80 192.0.2.1 fd2)" 5
	[ "$output" = 005b0050c0000201 ]
	re="$no CONNECT 127\.0\.0\.1:$c -> 192\.0\.2\.1:80 user \"fd2\":"
	run -0 wait_lines "$sys" "$off" \
		"$re Reject \(no rule in $CONF matches\), content \"\"$" 1

	c=$(client_port) off=$(log_size "$sys")
	run -0 raw "$c" "$port" '\x06\x01\x00' 5
	[ "$output" = "" ]
	re="$no request [0-9.:]+: Reject \("
	run -0 wait_lines "$sys" "$off" "$re"'version is not 4\), content ""$' 1

	c=$(client_port) off=$(log_size "$sys")
	run -0 raw "$c" "$port" '\x04\x01\x00' 5
	[ "$output" = "" ]
	run -0 wait_lines "$sys" "$off" \
		"$re"'client closed before a complete request\), content ""$' 1

	run ! grep -a -e '<S_IP>' -e '<Reply>' "$sys" "$@"
	run ! grep -a 'socks4d\[' "$@"
}

# curl through socks4d, classic record on stderr
@test "systemd-socket-activate --inetd (Accept=yes, StandardInput=socket)" {
	curl_through "$SA_PORT"
	classic_record_ok "$SA_LOG"
}

# curl through socks4d, classic record on stderr
@test "systemd-socket-activate fd-3 style (LISTEN_FDS=1, no --inetd)" {
	curl_through "$FD3_PORT"
	classic_record_ok "$FD3_LOG"
	run -0 grep -c '^Spawned .* as PID ' "$FD3_LOG"
	run ! grep -e usage: -e 'died with code 2' "$FD3_LOG"
}

# started as root, the session runs as nobody
@test "tcpserver -HRl0: curl through socks4d, classic record on stderr" {
	curl_through "$TCPS_PORT"
	classic_record_ok "$TCPS_LOG"

	# hold a session open and look at its process
	[ "$(id -u)" = 0 ] || return 0	# not started as root: nothing to drop
	local c child uid
	c=$(client_port)
	{ printf "$(req 1 "$ECHO_PORT" 127.0.0.2 hold)"; sleep 2; } |
		timeout 10 socat -t 1 \
		- "TCP:127.0.0.1:$TCPS_PORT,sourceport=$c,reuseaddr" \
		>/dev/null 3>&- &
	local held=$! tries=100
	until child=$(cat /proc/"$TCPS_PID"/task/*/children 2>/dev/null |
		awk '{ print $1 }') &&
		[ -n "$child" ] &&
		uid=$(awk '/^Uid:/ { print $2 "," $3 "," $4 }' \
		"/proc/$child/status" 2>/dev/null) &&
		[ "$uid" = 65534,65534,65534 ]; do
		(( tries-- > 0 )) ||
			die "socks4d under tcpserver: uid ${uid:-?}" \
				"(pid ${child:-none})"
		sleep 0.05
	done
	wait "$held"
}

# one-line record on syslog (daemon)
@test "xinetd with the inetd.conf.example block: curl through socks4d" {
	[ -z "$NS_SKIP" ] || skip "$NS_SKIP"
	curl_through "$XINETD_PORT"
	syslog_record_ok "$XSYS/syslog.txt"
	grep -q 'user\s*=\s*nobody' "$XSYS/xinetd.conf"
}

@test "xinetd: fd 2 is the client, and not one log byte reaches it" {
	[ -z "$NS_SKIP" ] || skip "$NS_SKIP"
	no_log_to_client "$XINETD_PORT" "$XSYS/syslog.txt" "$XSYS/xinetd.out"
}

# curl through socks4d, one-line record on syslog (daemon)
@test "openbsd-inetd, unprivileged, with the inetd.conf.example line" {
	[ -z "$NS_SKIP" ] || skip "$NS_SKIP"
	[ -z "$INETD_MISSING" ] || die "$INETD_MISSING"
	run -0 awk '/^Uid:/ { print $2 }' "/proc/$INETD_PID/status"
	[ "$output" = 65534 ]
	curl_through "$INETD_PORT"
	syslog_record_ok "$ISYS/syslog.txt"
	# the example's line, only the port, binary and socks.conf changed
	local want
	want=$(printf '%s\t' "127.0.0.1:$INETD_PORT" stream tcp nowait.300000 \
		nobody "$SOCKS4D")"socks4d -c $CONF"
	[ "$(cat "$CONF_DIR/inetd.conf")" = "$want" ]
}

@test "openbsd-inetd: fd 2 is the client, and not one log byte reaches it" {
	[ -z "$NS_SKIP" ] || skip "$NS_SKIP"
	[ -z "$INETD_MISSING" ] || die "$INETD_MISSING"
	no_log_to_client "$INETD_PORT" "$ISYS/syslog.txt" "$ISYS/inetd.out"
}

# units DIR: the units in DIR, runnable from this tree: ExecStart is the
# binary under test with a socks.conf of the test; the man pages that
# Documentation= names in DIR/man.
units() {
	mkdir -p "$1/man/man5" "$1/man/man8"
	cp "$TOP/socks4d.socket" "$1/"
	sed -e "s|^ExecStart=/usr/local/sbin/socks4d |ExecStart=$SOCKS4D |" \
		-e "s|/usr/local/etc/socks.conf|$CONF|" \
		"$TOP/socks4d@.service" >"$1/socks4d@.service"
	grep -q "^ExecStart=$SOCKS4D -c $CONF\$" "$1/socks4d@.service" ||
		die "ExecStart= not as expected:" \
			"$(grep ExecStart= "$1/socks4d@.service")"
	cp "$TOP/socks4d.8" "$1/man/man8/"
	cp "$TOP/socks.conf.5" "$1/man/man5/"
}

@test "systemd-analyze verify: socks4d.socket and socks4d@.service are clean" {
	local d=$BATS_TEST_TMPDIR/units
	units "$d"
	# MANPATH: Documentation=man:socks4d(8) is looked up with man(1)
	run -0 env MANPATH="$d/man" systemd-analyze verify "$d/socks4d.socket" \
		"$d/socks4d@.service"
	[ -z "$output" ]
}
