#!/usr/bin/env bats
# examples/fail2ban: the filter and the jail that ban a source failing
# SOCKS5 logins, a super-server's socks4d being gone after each one.  Real
# failed logins (curl with a wrong password or an unknown user, a raw client
# with an empty one) make real records; fail2ban-regex with the shipped
# filter counts exactly those, and no successful login, denied destination
# or server-side failure (a malformed users file), in the classic records a
# super-server keeps from stderr (IPv4 and IPv6) and in the syslog lines of
# an inetd-style socks4d, as a syslog file and as fail2ban's journal backend
# shows them.  Then a real fail2ban-server, with the shipped jail in a
# config directory of its own (file backend, and an action that only writes
# the address to a file: no firewall is touched), bans 127.0.0.1 at its
# tenth failure within a minute, not at its ninth.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=90
load test_helper

EX=$TOP/examples/fail2ban

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www" "$d/dev"
	echo page >"$d/www/index.html"
	start_http 127.0.0.1 "$d/www"
	export HTTP_PORT HTTP_PID
	export USERS=$d/users BAD_USERS=$d/bad-users
	users_file "$USERS" alice secret
	printf 'bob\n' >"$BAD_USERS"	# malformed: every login fails
	printf '%s\n' 'permit c 127.0.0.1 from 127.0.0.0/8 user alice' \
		'permit c 127.0.0.1 from ::1 user alice' >"$d/socks.conf"
	# fail2ban's configuration with the shipped filter and jail; the
	# jail test adds its own files
	export F2B=$d/f2b
	cp -a /etc/fail2ban "$F2B"
	rm -f "$F2B"/jail.d/*
	cp "$EX/filter.d/socks4d.conf" "$F2B/filter.d/"
	cp "$EX/jail.d/socks4d.local" "$F2B/jail.d/"
}

teardown_file() {
	stop_http
}

teardown() {
	stop_socks4d
	kill_pids "${SIX_PID:-}" "${BAD_PID:-}" "${SYS_PID:-}" \
		"${SYSLOG_PID:-}" "${F2B_PID:-}" "${HT_PID:-}"
	SIX_PID= BAD_PID= SYS_PID= SYSLOG_PID= F2B_PID= HT_PID=
}

# login HOSTPORT USER:PASSWORD EXIT: curl through socks4d at HOSTPORT
# ([::1]:N for IPv6) as USER, to the page on 127.0.0.1; curl exits EXIT
# (0 served, 97 the proxy refused).
login() {
	run -"$3" curl -s -o /dev/null --max-time 20 --socks5 "$1" \
		--proxy-user "$2" "http://127.0.0.1:$HTTP_PORT/"
}

# raw_login PORT NAME PASSWORD: a login curl cannot send (Python escapes
# in NAME and PASSWORD: "\x00", "\n"); socks4d must refuse it.
raw_login() {
	"$PYTHON" - "$@" <<'PY'
import socket, sys
name, pw = (a.encode().decode("unicode_escape").encode("latin-1")
            for a in sys.argv[2:4])
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
c.sendall(b"\x05\x01\x02")
assert c.recv(2) == b"\x05\x02"
c.sendall(b"\x01" + bytes([len(name)]) + name + bytes([len(pw)]) + pw)
assert c.recv(2) == b"\x01\x01"
PY
}

# A user name holding a record of its own (a forged source, a client's
# failure) for the server-side failure that follows it in the reason.
FORGED='x: wrong password), content ""\nrequest 10.9.9.9:1: Reject '
FORGED+='(login failed for y: wrong password'

# failures PORT: the 6 failed logins each form is tried with: wrong
# passwords, unknown users (one the forged name), a password with a NUL
# byte.  Then what must not count: an empty password (refused before the
# users file), 2 successful logins and a destination socks.conf denies.
failures() {
	local i
	for i in 1 2 3; do login "127.0.0.1:$1" alice:wrong 97; done
	login "127.0.0.1:$1" bob:x 97
	raw_login "$1" "$FORGED" p
	raw_login "$1" alice 'a\x00b'
	raw_login "$1" alice ''
	login "127.0.0.1:$1" alice:secret 0
	login "127.0.0.1:$1" alice:secret 0
	run -97 curl -s -o /dev/null --max-time 20 --socks5 "127.0.0.1:$1" \
		--proxy-user alice:secret "http://127.0.0.2:$HTTP_PORT/"
}

# f2b_ips LOG [FILTER]: the source of each failure fail2ban-regex finds in
# LOG with the filter (socks4d: the shipped one, with options in [...]).
f2b_ips() {
	fail2ban-regex -o ip -c "$F2B" "$1" "${2:-socks4d}"
}

@test "the shipped jail: journal backend, 10 failures in 60 s, a ban" {
	run -0 fail2ban-client -c "$F2B" -d
	grep -Fx "['add', 'socks4d', 'systemd']" <<<"$output"
	grep -Fx "['set', 'socks4d', 'addjournalmatch', \
'SYSLOG_IDENTIFIER=socks4d']" <<<"$output"
	grep -Fx "['set', 'socks4d', 'maxretry', 10]" <<<"$output"
	grep -Fx "['set', 'socks4d', 'findtime', '60']" <<<"$output"
	grep -Fx "['set', 'socks4d', 'bantime', '10m']" <<<"$output"
	grep -F "['port', '1080']" <<<"$output"
}

@test "classic records: each failed login counted, and nothing else" {
	start_socks4d "$BATS_FILE_TMPDIR/socks.conf" -u "$USERS"
	failures "$SOCKS_PORT"
	run -0 wait_recs "$SOCKS_LOG" 0 '<Reply> :Reject' 8
	run -0 wait_recs "$SOCKS_LOG" 0 '<Reply> :Accept' 2
	# the records as a file backend reads them: the super-server's own
	# lines between them
	grep -q '^Connection from 127.0.0.1:' "$SOCKS_LOG"
	run -0 f2b_ips "$SOCKS_LOG" 'socks4d[mode=records]'
	[ "$output" = "$(printf '127.0.0.1\n%.0s' 1 2 3 4 5 6)" ]
	# the default mode (lines) finds none there
	run -0 f2b_ips "$SOCKS_LOG"
	[ -z "$output" ]
}

# HTTP CONNECT's Proxy-Authorization is a login like SOCKS5's: its failures
# are the same records, which the filter counts
@test "classic records: HTTP CONNECT's failed logins counted too" {
	local log=$BATS_FILE_TMPDIR/http.log
	serve HT 127.0.0.1 "$log" with_port systemd-socket-activate -a \
		--inetd -l "127.0.0.1:@PORT@" "$SOCKS4D" \
		-c "$BATS_FILE_TMPDIR/socks.conf" -u "$USERS"
	local u
	for u in alice:wrong carol:x alice:secret; do
		run curl -s -o /dev/null --max-time 20 -p \
			-x "http://127.0.0.1:$HT_PORT" --proxy-user "$u" \
			"http://127.0.0.1:$HTTP_PORT/"
	done
	run -0 wait_recs "$log" 0 '<Reply> :' 3
	run -0 f2b_ips "$log" 'socks4d[mode=records]'
	[ "$output" = $'127.0.0.1\n127.0.0.1' ]
}

@test "classic records of an IPv6 source" {
	local log=$BATS_FILE_TMPDIR/six.log
	serve SIX ::1 "$log" with_port systemd-socket-activate -a --inetd \
		-l "[::1]:@PORT@" "$SOCKS4D" -c "$BATS_FILE_TMPDIR/socks.conf" \
		-u "$USERS"
	login "[::1]:$SIX_PORT" alice:wrong 97
	login "[::1]:$SIX_PORT" carol:x 97
	login "[::1]:$SIX_PORT" alice:secret 0
	run -0 wait_recs "$log" 0 '^<S_IP> :::1\|.*<Reply> :' 3
	run -0 f2b_ips "$log" 'socks4d[mode=records]'
	[ "$output" = $'::1\n::1' ]
}

@test "a server-side login failure bans nobody" {
	local log=$BATS_FILE_TMPDIR/bad.log
	serve BAD 127.0.0.1 "$log" with_port systemd-socket-activate -a \
		--inetd -l 127.0.0.1:@PORT@ "$SOCKS4D" \
		-c "$BATS_FILE_TMPDIR/socks.conf" -u "$BAD_USERS"
	login "127.0.0.1:$BAD_PORT" alice:secret 97
	raw_login "$BAD_PORT" "$FORGED" p
	run -0 wait_recs "$log" 0 '<Reason> :login failed for .*bad-users:1' 2
	run -0 f2b_ips "$log" 'socks4d[mode=records]'
	[ -z "$output" ]
}

# run_syslogged PORT: socks4d as inetd runs it as far as its log goes (no
# stderr: syslog), under systemd-socket-activate, /dev/log the stand-in's.
run_syslogged() {
	devlog_exec "$BATS_FILE_TMPDIR/dev" systemd-socket-activate -a \
		--inetd -l "127.0.0.1:$1" \
		sh -c 'exec "$0" "$@" 2>&-' "$SOCKS4D" \
		-c "$BATS_FILE_TMPDIR/socks.conf" -u "$USERS"
}

@test "syslog lines: each failed login counted, and nothing else" {
	local d=$BATS_FILE_TMPDIR/dev
	[ -z "$(devlog_reason)" ]
	start_syslog "$d"
	serve SYS 127.0.0.1 "$BATS_FILE_TMPDIR/sys.out" run_syslogged
	failures "$SYS_PORT"
	run -0 wait_lines "$d/syslog.txt" 0 \
		'^<[0-9]+>.{15} socks4d\[[0-9]+\]: (request|CONNECT) ' 10
	run -0 grep -c ': Reject (login failed for ' "$d/syslog.txt"
	[ "$output" = 6 ]
	# as rsyslog writes them: "<PRI>" gone, the host's name added
	sed -E 's/^<[0-9]+>(.{15}) /\1 proxyhost /' "$d/syslog.txt" \
		>"$d/syslog.log"
	run -0 f2b_ips "$d/syslog.log"
	[ "$output" = "$(printf '127.0.0.1\n%.0s' 1 2 3 4 5 6)" ]
	# as fail2ban's journal backend shows an entry: host, identifier[pid]
	run -0 f2b_ips "$d/syslog.log" 'socks4d[logtype=journal]'
	[ "$output" = "$(printf '127.0.0.1\n%.0s' 1 2 3 4 5 6)" ]
	# an IPv6 source, as log.c writes it (unbracketed, the port last)
	sed -n 's/ request 127\.0\.0\.1:/ request 2001:db8::7:/p' \
		"$d/syslog.log" >"$d/six.log"
	run -0 f2b_ips "$d/six.log"
	[ "$output" = "$(printf '2001:db8::7\n%.0s' 1 2 3 4 5 6)" ]
}

# jail_status: fail2ban-client's status of the jail.
jail_status() { fail2ban-client -s "$F2B/sock" status socks4d; }

# failed_seen N: the jail has read N failures.
failed_seen() { jail_status | grep -qP "Total failed:\t$1\$"; }

@test "fail2ban-server bans at the 10th failure within a minute" {
	local log=$BATS_FILE_TMPDIR/jail.log i
	: >"$log"
	SOCKS_LOG=$log start_socks4d "$BATS_FILE_TMPDIR/socks.conf" \
		-u "$USERS"
	cat >"$F2B/fail2ban.local" <<-EOF
	[Definition]
	logtarget = $F2B/server.log
	dbfile = :memory:
	EOF
	# the shipped jail, read from a file: the classic records of this
	# socks4d; the action only writes down whom it bans; and 127.0.0.1
	# (this host) may be banned
	cat >"$F2B/jail.d/zz-test.local" <<-EOF
	[socks4d]
	backend = polling
	logpath = $log
	filter = socks4d[mode=records]
	action = dummy[target=$F2B/banned]
	ignoreself = false
	ignoreip =
	EOF
	fail2ban-server -f -x -c "$F2B" -s "$F2B/sock" -p "$F2B/pid" \
		</dev/null >"$F2B/server.out" 2>&1 3>&- &
	F2B_PID=$!
	wait_cmd 20 "fail2ban-server did not start" \
		fail2ban-client -s "$F2B/sock" ping
	run -0 fail2ban-client -c "$F2B" -s "$F2B/sock" reload
	wait_cmd 20 "no jail socks4d" jail_status
	for i in 1 2 3 4 5 6 7 8 9; do
		login "127.0.0.1:$SOCKS_PORT" alice:wrong 97
	done
	login "127.0.0.1:$SOCKS_PORT" alice:secret 0
	wait_cmd 20 "the jail read fewer than 9 failures" failed_seen 9
	sleep 2	# a poll or two more: nothing else may count
	run -0 jail_status
	[[ $output == *$'Total failed:\t9\n'* ]]
	[[ $output == *$'Currently banned:\t0\n'* ]]
	run -0 cat "$F2B/banned"
	[ "$output" = 123 ]	# the dummy action's start, no ban
	login "127.0.0.1:$SOCKS_PORT" alice:wrong 97
	wait_cmd 20 "127.0.0.1 not banned: $(jail_status)" \
		grep -qx '+127.0.0.1' "$F2B/banned"
	run -0 jail_status
	[[ $output == *$'Currently banned:\t1\n'* ]]
	[[ $output == *$'Banned IP list:\t127.0.0.1'* ]]
	run -0 fail2ban-client -s "$F2B/sock" stop
	wait "$F2B_PID"		# and it exits 0
	F2B_PID=
}
