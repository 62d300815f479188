#!/usr/bin/env bats
# The shipped units under a real systemd: socks4d.socket (Accept=yes) and
# socks4d@.service, installed under a temporary name with only the port,
# the program and socks.conf changed.  Where PID 1 is systemd, they run
# there; elsewhere (containers, CI) under a private systemd booted for this
# file by private_systemd.sh, which shares the network and nothing else.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=150
load test_helper

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	[ "$(id -u)" = 0 ] || skip "installing units needs root"
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www"
	export MARKER="systemd page $RANDOM$RANDOM"
	printf '<html><body>%s</body></html>\n' "$MARKER" >"$d/www/index.html"
	start_web HTTP 127.0.0.1 "$d/www"
	start_peer ECHO echo 127.0.0.1
	export SD_PID= HOST_DEVLOG
	HOST_DEVLOG=$(ls -l /dev/log 2>&1 || true)
	if [ ! -d /run/systemd/system ]; then
		SD_PID=$("$BATS_TEST_DIRNAME/private_systemd.sh" start) ||
			skip_no_systemd
	fi
}

teardown_file() {
	[ -n "${SD_PID:-}" ] &&
		"$BATS_TEST_DIRNAME/private_systemd.sh" stop "$SD_PID"
	kill_pids "${HTTP_PID:-}" "${ECHO_PID:-}"
	return 0
}

# install_units CONF_TEXT [socks4d options]: the shipped units as $UNIT on
# $PORT, with socks4d from this tree and a socks.conf of CONF_TEXT, started.
install_units() {
	printf '%s\n' "$1" >"$BATS_TEST_TMPDIR/socks.conf"
	shift
	"$BATS_TEST_DIRNAME/private_systemd.sh" units "${SD_PID:--}" "$UNIT" \
		"$PORT" \
		"$SOCKS4D" "$BATS_TEST_TMPDIR/socks.conf" "$@"
	wait_for_port 127.0.0.1 "$PORT"
}

setup() {
	UNIT=socks4d-test-$$-$RANDOM
	PORT=$(free_port)
}

teardown() {
	"$BATS_TEST_DIRNAME/private_systemd.sh" remove "${SD_PID:--}" "$UNIT"
	return 0
}

# journal_of CPORT: the journal entry of that client's request record,
# every field (journalctl -o verbose), once it is there.
journal_of() {
	local tries=100 out
	until out=$(sd journalctl --no-pager -o verbose \
		"SOCKS_SRC=127.0.0.1:$1") &&
		grep -q "^    _SYSTEMD_UNIT=$UNIT@" <<<"$out"; do
		(( tries-- > 0 )) || { sd journalctl --no-pager -u "$UNIT@*" |
			tail >&2; return 1; }
		sleep 0.1
	done
	awk '/^[A-Z]/ { n++ } n == 1' <<<"$out"
}

# records in the journal with SOCKS_ fields
@test "systemd Accept=yes: a socks4d per client, as a dynamic user" {
	install_units 'permit c 127.0.0.0/8'
	local c1 c2 e1 e2
	c1=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$c1" \
		--socks4 "127.0.0.1:$PORT" "http://127.0.0.1:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]] || die "not the page: $output"
	c2=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$c2" \
		--socks4a "127.0.0.1:$PORT" "http://localhost:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]] || die "not the page: $output"
	e1=$(journal_of "$c1") || die "no journal entry for client port $c1"
	e2=$(journal_of "$c2") || die "no journal entry for client port $c2"
	echo "$e1"
	grep -qx "    SOCKS_DST=127.0.0.1:$HTTP_PORT" <<<"$e1" ||
		die "SOCKS_DST"
	grep -qx "    SOCKS_COMMAND=CONNECT" <<<"$e1" || die "SOCKS_COMMAND"
	grep -qx "    SOCKS_REPLY=Accept" <<<"$e1" || die "SOCKS_REPLY"
	grep -q "^    SOCKS_CONTENT=GET / HTTP/1.1" <<<"$e1" ||
		die "SOCKS_CONTENT"
	grep -qx "    SOCKS_DST=127.0.0.1:$HTTP_PORT" <<<"$e2" ||
		die "SOCKS4a: SOCKS_DST of localhost"
	# Two instances of the template, two processes, neither of them root.
	[ "$(sed -n 's/^    _SYSTEMD_UNIT=//p' <<<"$e1")" \
		!= "$(sed -n 's/^    _SYSTEMD_UNIT=//p' <<<"$e2")" ] ||
		die "one unit for two clients"
	[ "$(sed -n 's/^    _PID=//p' <<<"$e1")" \
		!= "$(sed -n 's/^    _PID=//p' <<<"$e2")" ] ||
		die "one process for two clients"
	for e in "$e1" "$e2"; do
		uid=$(sed -n 's/^    _UID=//p' <<<"$e")
		[ -n "$uid" ] && [ "$uid" != 0 ] || die "ran as uid '$uid'"
	done
}

# one that socks.conf permits
@test "systemd: IPAddressAllow=localhost drops a non-loopback CONNECT" {
	local addr port cport
	addr=$(ip -4 -o addr show scope global |
		awk '{ sub(/\/.*/, "", $4); print $4; exit }')
	[ -n "$addr" ] ||
		skip "this machine has no IPv4 address besides loopback"
	# Nothing listens there: asked directly, this host refuses at once.
	port=$(free_port)
	run -7 curl -sS --max-time 5 "http://$addr:$port/"
	install_units 'permit c *' -C 2
	cport=$(client_port)
	run ! curl -sS --fail --max-time 10 --local-port "$cport" \
		--socks4 "127.0.0.1:$PORT" "http://$addr:$port/"
	[[ $output == *"request rejected"* ]] || die "curl: $output"
	e=$(journal_of "$cport") ||
		die "no journal entry for client port $cport"
	grep -qx "    SOCKS_REPLY=Reject" <<<"$e" || die "not a Reject: $e"
	# The unit's filter drops the SYN: the connect times out, unrefused.
	grep -q "^    SOCKS_REASON=connect to $addr port $port: .*timed out" \
		<<<"$e" ||
		die "not dropped by the filter: $(grep REASON <<<"$e")"
}

# (no sysinit.target, no /dev/log)
@test "systemd: a private systemd leaves the host alone" {
	[ -n "$SD_PID" ] || skip "PID 1 is systemd itself"
	install_units 'permit c 127.0.0.0/8'
	run -0 curl -sS --fail --max-time 20 --socks4 "127.0.0.1:$PORT" \
		"http://127.0.0.1:$HTTP_PORT/"
	run -0 sd systemctl show -P ActiveState sysinit.target
	[ "$output" = inactive ] || die "sysinit.target is $output"
	run -0 sd systemctl show -P ActiveState systemd-tmpfiles-setup.service
	[ "$output" = inactive ] ||
		die "systemd-tmpfiles-setup.service is $output"
	# journald made its /dev/log in the private /dev, not in the host's
	run -0 sd systemctl show -P ActiveState systemd-journald-dev-log.socket
	[ "$output" = active ] ||
		die "systemd-journald-dev-log.socket is $output"
	[ "$(ls -l /dev/log 2>&1 || true)" = "$HOST_DEVLOG" ] ||
		die "the host's /dev/log changed: $(ls -l /dev/log)"
}

# each is served or refused, none hangs
@test "systemd: a burst of 1,000 clients leaves socks4d.socket active" {
	install_units 'permit c 127.0.0.0/8'
	# Every connect() first, then the sessions: far past the 200 starts in
	# 2 s of systemd's default trigger limit for Accept=yes.
	run "$PYTHON" "$BATS_TEST_DIRNAME/burst_client.py" "$PORT" 127.0.0.1 \
		"$ECHO_PORT" \
		--clients 1000 --timeout 100
	echo "# $output" >&3
	[ "$status" = 0 ] ||
		die "not every client served or refused cleanly: $output"
	served=$(sed -n 's/.* served=\([0-9]*\) .*/\1/p' <<<"${lines[0]}")
	(( served > 0 )) || die "no client served: $output"
	run -0 sd systemctl show -p ActiveState -p Result "$UNIT.socket"
	grep -qx 'ActiveState=active' <<<"$output" ||
		die "the socket after the burst: $output"
	grep -qx 'Result=success' <<<"$output" ||
		die "the socket after the burst: $output"
	run -0 curl -sS --fail --max-time 30 --socks4 "127.0.0.1:$PORT" \
		"http://127.0.0.1:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]] || die "the next client: $output"
}

# exposure DIR: the overall exposure of DIR/socks4d@.service (with any
# drop-in in DIR/socks4d@.service.d), as systemd-analyze security rates it.
exposure() {
	local out re='.*Overall exposure level for socks4d@[^:]*: '
	out=$(systemd-analyze security --offline=yes "$1/socks4d@.service" 2>&1)
	sed -nE "s/$re([0-9]+\.[0-9]+) .*/\1/p" <<<"$out"
}

# with examples/socks4d-strict.conf at most 1.0
@test "systemd-analyze security: socks4d@.service at most 2.0" {
	local d=$BATS_TEST_TMPDIR/units level
	mkdir -p "$d"
	cp "$TOP/socks4d@.service" "$d/"
	level=$(exposure "$d")
	echo "# socks4d@.service: exposure $level" >&3
	[ -n "$level" ] || die "no exposure level"
	awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }' ||
		die "exposure $level > 2.0"
	mkdir "$d/socks4d@.service.d"
	cp "$TOP/examples/socks4d-strict.conf" "$d/socks4d@.service.d/"
	level=$(exposure "$d")
	echo "# with socks4d-strict.conf: exposure $level" >&3
	[ -n "$level" ] || die "no exposure level with the drop-in"
	awk -v l="$level" 'BEGIN { exit !(l <= 1.0) }' ||
		die "exposure with the drop-in $level > 1.0"
}

# under an allow list of system calls
@test "systemd: with examples/socks4d-strict.conf, a session still works" {
	UNIT_DROPIN=$TOP/examples/socks4d-strict.conf install_units \
		'permit c 127.0.0.0/8'
	run -0 curl -sS --fail --max-time 20 --socks4 "127.0.0.1:$PORT" \
		"http://127.0.0.1:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]] || die "not the page: $output"
	run -0 sd systemctl show -p ProtectKernelTunables -p ProtectHome \
		-p SystemCallFilter "$UNIT@probe.service"
	grep -qx 'ProtectKernelTunables=yes' <<<"$output" ||
		die "drop-in not applied: $output"
	grep -qx 'ProtectHome=yes' <<<"$output" ||
		die "drop-in not applied: $output"
	# an allow list is shown as the calls allowed, a deny list with "~"
	grep -q '^SystemCallFilter=[a-z_]' <<<"$output" ||
		die "not an allow list: ${output:0:300}"
	run -0 grep -o -w -e socket -e setuid <<<"$output"
	[ "$output" = socket ] ||
		die "socket allowed and setuid denied? $output"
}
