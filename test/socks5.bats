#!/usr/bin/env bats
# SOCKS5 CONNECT through socks4d with real clients on loopback: curl
# --socks5 (ATYP 1), --socks5-hostname and socks5h:// (ATYP 3, socks4d
# resolves), an IPv6 destination, username/password right and wrong, and
# what the record says. SOCKS4 on the same port keeps working. The users
# file as socks4d -t checks it, the same way a login reads it.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper

setup_file() {
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www"
	printf '<html><body>socks4d SOCKS5 test page</body></html>\n' \
		> "$d/www/index.html"
	head -c 1048576 /dev/urandom > "$d/www/bin.dat"
	printf 'permit c 127.0.0.0/8\npermit c ::1\n' > "$d/socks.conf"
	printf 'permit c 127.0.0.0/8\n' > "$d/v4only.conf"
	users_file "$d/socks.passwd" alice wonderland bob 'b:0b s3cret'

	start_http ::1 "$d/www"
	export HTTP6_PORT=$HTTP_PORT HTTP6_PID=$HTTP_PID
	start_http 127.0.0.1 "$d/www"
	export HTTP1_PORT=$HTTP_PORT HTTP1_PID=$HTTP_PID
	start_http 127.0.0.2 "$d/www"
	export HTTP_PORT HTTP_PID
	# With a users file: curl --proxy-user logs in.
	SOCKS_LOG=$d/socks4d-users.log
	start_socks4d "$d/socks.conf" -u "$d/socks.passwd"
	export USERS_PORT=$SOCKS_PORT USERS_PID=$SOCKS_PID USERS_LOG=$SOCKS_LOG
	# Without one (-u names a file that does not exist).
	SOCKS_LOG=$d/socks4d.log
	start_socks4d "$d/socks.conf" -u "$d/none"
	export FILE_SOCKS_PID=$SOCKS_PID
}

teardown_file() {
	stop_socks4d
	kill_pids "$USERS_PID" "$HTTP6_PID" "$HTTP1_PID"
	stop_http
}

# What a test started for itself, stopped even when it failed halfway.
teardown() {
	local p
	[ "${SOCKS_PID:-}" = "$FILE_SOCKS_PID" ] ||
		kill "$SOCKS_PID" 2>/dev/null || true
	for p in "${UECHO_PID:-}" "${UECHO1_PID:-}" "${UTRAP_PID:-}" \
		"${ECHO_PID:-}"; do
		[ -z "$p" ] || kill "$p" 2>/dev/null || true
	done
	[ -z "${SHARED:-}" ] || rm -rf "$SHARED"
}

@test "curl --socks5 (ATYP 1) fetches files byte for byte" {
	local f
	for f in index.html bin.dat; do
		run -0 curl -sS --fail --max-time 20 \
			--socks5 "127.0.0.1:$SOCKS_PORT" \
			-o "$BATS_TEST_TMPDIR/$f" \
			"http://127.0.0.2:$HTTP_PORT/$f"
		cmp "$BATS_FILE_TMPDIR/www/$f" "$BATS_TEST_TMPDIR/$f"
	done
}

@test "curl --socks5-hostname (ATYP 3): socks4d resolves the name" {
	local cport
	cport=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$cport" \
		--socks5-hostname "127.0.0.1:$SOCKS_PORT" \
		-o "$BATS_TEST_TMPDIR/bin.dat" \
		"http://localhost:$HTTP1_PORT/bin.dat"
	cmp "$BATS_FILE_TMPDIR/www/bin.dat" "$BATS_TEST_TMPDIR/bin.dat"
	run -0 record_of "$cport"
	[[ "$output" == *$'<D_NAME> :localhost\n'* ]] ||
		die "no name in the record: $output"
	[[ "$output" == *$'<Reply> :Accept\n'* ]] || die "not accepted: $output"
}

@test "socks5h:// to an IPv6 literal (ATYP 4 or a name): [::1] served" {
	run -0 curl -sS --fail --max-time 20 \
		-x "socks5h://127.0.0.1:$SOCKS_PORT" \
		"http://[::1]:$HTTP6_PORT/index.html"
	[ "$output" = "$(cat "$BATS_FILE_TMPDIR/www/index.html")" ]
	run -0 curl -sS --fail --max-time 20 --socks5 "127.0.0.1:$SOCKS_PORT" \
		"http://[::1]:$HTTP6_PORT/index.html"
	[ "$output" = "$(cat "$BATS_FILE_TMPDIR/www/index.html")" ]
}

@test "a destination socks.conf does not permit: curl fails, nothing fetched" {
	SOCKS_LOG=$BATS_TEST_TMPDIR/v4only.log
	start_socks4d "$BATS_FILE_TMPDIR/v4only.conf"
	run ! curl -sS --fail --max-time 20 --socks5 "127.0.0.1:$SOCKS_PORT" \
		"http://[::1]:$HTTP6_PORT/index.html"
	[[ "$output" == *"SOCKS5 connection to ::1. (2)"* ]] ||
		die "not REP 02: $output"
	kill "$SOCKS_PID"
	wait "$SOCKS_PID" || true
	grep -q '<Reason> :no rule in .* matches' "$SOCKS_LOG" ||
		die "no rejection logged"
}

# wrong password and unknown name refused
@test "--proxy-user: right password served" {
	run -0 curl -sS --fail --max-time 20 --proxy-user alice:wonderland \
		--socks5 "127.0.0.1:$USERS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	[ "$output" = "$(cat "$BATS_FILE_TMPDIR/www/index.html")" ]
	run -0 curl -sS --fail --max-time 20 --proxy-user 'bob:b:0b s3cret' \
		-x "socks5h://127.0.0.1:$USERS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	run ! curl -sS --fail --max-time 20 --proxy-user alice:wonderlant \
		--socks5 "127.0.0.1:$USERS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	run ! curl -sS --fail --max-time 20 --proxy-user mallory:wonderland \
		--socks5 "127.0.0.1:$USERS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	wait_for_log "$USERS_LOG" 'mallory.*unknown user'
	wait_for_log "$USERS_LOG" 'alice.*wrong password'
	run ! grep -e wonderland -e wonderlant -e s3cret "$USERS_LOG"
}

@test "with a users file, a client offering only 'no authentication' served" {
	run -0 curl -sS --fail --max-time 20 --socks5 "127.0.0.1:$USERS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	[ "$output" = "$(cat "$BATS_FILE_TMPDIR/www/index.html")" ]
}

@test "SOCKS4 on the same port still works" {
	run -0 curl -sS --fail --max-time 20 --socks4 "127.0.0.1:$SOCKS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	[ "$output" = "$(cat "$BATS_FILE_TMPDIR/www/index.html")" ]
}

# a SOCKS4 USERID never counts
@test "socks.conf 'user': only a client logged in as a listed name" {
	local d=$BATS_TEST_TMPDIR
	printf 'permit c 127.0.0.0/8 user alice,carol\n' > "$d/users.conf"
	SOCKS_LOG=$d/users-rule.log
	start_socks4d "$d/users.conf" -u "$BATS_FILE_TMPDIR/socks.passwd"
	run -0 curl -sS --fail --max-time 20 --proxy-user alice:wonderland \
		--socks5 "127.0.0.1:$SOCKS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	[ "$output" = "$(cat "$BATS_FILE_TMPDIR/www/index.html")" ]
	run ! curl -sS --fail --max-time 20 --proxy-user 'bob:b:0b s3cret' \
		--socks5 "127.0.0.1:$SOCKS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	[[ "$output" == *"(2)"* ]] || die "bob: not REP 02: $output"
	run ! curl -sS --fail --max-time 20 --socks5 "127.0.0.1:$SOCKS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	run ! curl -sS --fail --max-time 20 --proxy-user alice: \
		--socks4 "127.0.0.1:$SOCKS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	kill "$SOCKS_PID"
	wait "$SOCKS_PID" || true
	[ "$(grep -c '<Reason> :no rule in .* matches' "$SOCKS_LOG")" = 3 ] ||
		die "$(cat "$SOCKS_LOG")"
	grep -q '<User> :alice' "$SOCKS_LOG" || die "no <User> in the record"
}

# a stranger is refused with 02
@test "BIND: a peer from another loopback address is relayed" {
	local d=$BATS_TEST_TMPDIR first
	printf 'permit b 127.0.0.0/8\n' > "$d/bind.conf"
	SOCKS_LOG=$d/bind.log
	start_socks4d "$d/bind.conf" -B 10
	run -0 bind5 "$SOCKS_PORT" 127.0.0.3 127.0.0.3
	echo "$output"
	first=$(sed -n 's/^first //p' <<< "$output")
	[[ "$first" =~ ^050000017f000001[0-9a-f]{4}$ ]] ||
		die "first reply $first"
	[[ "$output" =~ second\ 050000017f000003([0-9a-f]{4})\ peer\ ([0-9]+) \
		]] || die "second reply"
	[ "$((16#${BASH_REMATCH[1]}))" = "${BASH_REMATCH[2]}" ] ||
		die "second reply's port is not the peer's"
	[[ "$output" == *"client got from-peer"* ]] || die "peer to client"
	[[ "$output" == *"peer got from-client"* ]] || die "client to peer"
	run -0 bind5 "$SOCKS_PORT" 127.0.0.3 127.0.0.4
	echo "$output"
	[[ "$output" =~ second\ 05020001000000000000 ]] ||
		die "stranger not refused with 02"
	kill "$SOCKS_PID"
	wait "$SOCKS_PID" || true
	grep -q '<Reason> :BIND peer 127.0.0.4 is not the expected 127.0.0.3' \
		"$SOCKS_LOG" || die "$(cat "$SOCKS_LOG")"
}

# a denied destination, a fragment and a stranger dropped; the relay gone
# with the TCP connection
@test "UDP ASSOCIATE: round trips by address and by name" {
	local d=$BATS_TEST_TMPDIR relay
	printf 'permit u 127.0.0.2\npermit u 127.0.0.1\n' > "$d/udp.conf"
	: > "$d/utrap.log"
	start_peer UECHO udp-echo 127.0.0.2
	start_peer UECHO1 udp-echo 127.0.0.1
	start_peer UTRAP udp-echo 127.0.0.3 --accept-log "$d/utrap.log"
	SOCKS_LOG=$d/udp.log
	start_socks4d "$d/udp.conf"
	run -0 udp5 "$SOCKS_PORT" "-127.0.0.3:$UTRAP_PORT:denied" \
		"-frag:127.0.0.2:$UECHO_PORT:fragment" \
		"127.0.0.2:$UECHO_PORT:ping" \
		"localhost:$UECHO1_PORT:by-name" \
		"-stranger:127.0.0.2:$UECHO_PORT:stranger" \
		"127.0.0.2:$UECHO_PORT:last"
	echo "$output"
	[[ "$output" =~ reply\ 050000017f000001[0-9a-f]{4} ]] || die "reply"
	[[ "$output" == *"got 127.0.0.2 $UECHO_PORT ping"* ]] ||
		die "no answer by address"
	[[ "$output" == *"got 127.0.0.1 $UECHO1_PORT by-name"* ]] ||
		die "no answer by name"
	[[ "$output" == *"got 127.0.0.2 $UECHO_PORT last"* ]] ||
		die "a stranger's datagram was relayed"
	relay=$(sed -n 's/^relay //p' <<< "$output")
	wait_for_log "$SOCKS_LOG" \
		'datagrams: 3 to client, 3 from client, 3 dropped'
	[ ! -s "$d/utrap.log" ] ||
		die "a denied datagram went out: $(cat "$d/utrap.log")"
	run -0 record_of "$(sed -n 's/^<S_PORT> :\([0-9]*\)$/\1/p' \
		"$SOCKS_LOG" | tail -1)"
	[[ "$output" == *$'<Command> :UDP\n'* ]] || die "record: $output"
	wait_for_log "$SOCKS_LOG" 'died with code 0'
	run ! grep -i ":$(printf '%04X' "$relay") " /proc/net/udp
	kill "$SOCKS_PID"
	wait "$SOCKS_PID" || true
}

# udp5_burst PORT ECHO TRAP: an association whose relay is stopped (SIGSTOP)
# while 8 rounds of 7 datagrams queue, so that they come in batches that mix
# them: one to ECHO, an empty one to ECHO (a run sent as one message must
# not swallow it), one to TRAP (denied), a malformed one, a fragment, a
# stranger's, and a 3000-byte one to ECHO (bigger than a batch's slot).
# Prints "answers N intact M" once the echoes are in (or 10 s went by).
udp5_burst() {
	"$PYTHON" - "$@" <<'PY'
import os, re, signal, socket, subprocess, sys
port, echo, trap = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
exec(os.environ["S5_GREETED"])
c.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
reply = read(c, 10)
assert len(reply) == 10 and reply[1] == 0, reply
relay = ("127.0.0.1", int.from_bytes(reply[8:10], "big"))
ss = subprocess.run(["ss", "-Hunap", "sport = :%d" % relay[1]],
                    capture_output=True, text=True).stdout
pid = int(re.search(r"pid=(\d+)", ss).group(1))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
u.settimeout(10)
stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
stranger.bind(("127.0.0.5", u.getsockname()[1]))
def to(p):
    return b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.2") \
        + p.to_bytes(2, "big")
def big(i):
    return bytes((i + j) % 251 for j in range(3000))
os.kill(pid, signal.SIGSTOP)
for i in range(8):
    u.sendto(to(echo) + b"small-%d" % i, relay)
    u.sendto(to(echo), relay)
    u.sendto(to(trap) + b"denied", relay)
    u.sendto(b"\x01" + to(echo)[1:] + b"malformed", relay)
    u.sendto(b"\x00\x00\x01" + to(echo)[3:] + b"fragment", relay)
    stranger.sendto(to(echo) + b"stranger", relay)
    u.sendto(to(echo) + big(i), relay)
os.kill(pid, signal.SIGCONT)
want = {to(echo) + b"small-%d" % i for i in range(8)} | \
    {to(echo) + big(i) for i in range(8)} | {to(echo)}
answers = intact = 0
try:
    while answers < 24:
        answers += 1
        intact += u.recv(65535) in want
except socket.timeout:
    answers -= 1
print("answers", answers, "intact", intact)
c.close()
PY
}

# Batches: each datagram of a burst judged on its own, relayed or dropped
# and counted; a big one relayed whole
@test "UDP ASSOCIATE: a burst of mixed datagrams, each judged and counted" {
	local d=$BATS_TEST_TMPDIR
	: > "$d/utrap.log"
	start_peer UECHO udp-echo 127.0.0.2
	start_peer UTRAP udp-echo 127.0.0.2 --accept-log "$d/utrap.log"
	printf 'permit u 127.0.0.2 port %s\n' "$UECHO_PORT" > "$d/burst.conf"
	SOCKS_LOG=$d/burst.log
	start_socks4d "$d/burst.conf"
	run -0 udp5_burst "$SOCKS_PORT" "$UECHO_PORT" "$UTRAP_PORT"
	[ "$output" = "answers 24 intact 24" ] || die "$output"
	wait_for_log "$SOCKS_LOG" \
		'datagrams: 24 to client, 24 from client, 32 dropped'
	[ ! -s "$d/utrap.log" ] ||
		die "a denied datagram went out: $(cat "$d/utrap.log")"
	kill "$SOCKS_PID"
	wait "$SOCKS_PID" || true
}

# chromium5 PORT URL OUT: chromium_via socks5://127.0.0.1:PORT.
chromium5() { chromium_via "socks5://127.0.0.1:$1" "$2" "$3"; }

# no restart
@test "Chromium socks5://: a page on, off (socks.conf rewritten), on again" {
	local d=$BATS_TEST_TMPDIR url page
	url="http://127.0.0.2:$HTTP_PORT/index.html"
	page=$(cat "$BATS_FILE_TMPDIR/www/index.html")
	printf 'permit c 127.0.0.2\n' > "$d/chrome.conf"
	SOCKS_LOG=$d/chrome.log
	start_socks4d "$d/chrome.conf"
	chromium5 "$SOCKS_PORT" "$url" "$d/on1.html"
	grep -qF 'SOCKS5 test page' "$d/on1.html" ||
		die "on: $(tail -3 "$d/on1.html.err")"
	printf 'deny c 127.0.0.2\n' > "$d/chrome.conf"
	chromium5 "$SOCKS_PORT" "$url" "$d/off.html"
	run ! grep -qF 'SOCKS5 test page' "$d/off.html"
	printf 'permit c 127.0.0.2\n' > "$d/chrome.conf"
	chromium5 "$SOCKS_PORT" "$url" "$d/on2.html"
	grep -qF 'SOCKS5 test page' "$d/on2.html" ||
		die "on again: $(tail -3 "$d/on2.html.err")"
	# a stranger to every rule: refused before its name is looked up
	grep -q '<Reason> :no rule in .*chrome.conf permits CONNECT for' \
		"$SOCKS_LOG" ||
		die "no denial logged"
	[ "$(grep -c '^Listening on ' "$SOCKS_LOG")" -eq 1 ]
	kill "$SOCKS_PID"
	wait "$SOCKS_PID" || true
}

# and ncat --proxy-type socks5 --proxy-auth
@test "proxychains4 'socks5 HOST PORT user pass' runs curl" {
	local d=$BATS_TEST_TMPDIR msg="plain tcp $RANDOM"
	printf '%s\n' strict_chain quiet_mode '[ProxyList]' \
		"socks5 127.0.0.1 $USERS_PORT alice wonderland" > "$d/pc.conf"
	run -0 proxychains4 -q -f "$d/pc.conf" curl -sS --fail --max-time 20 \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	[ "$output" = "$(cat "$BATS_FILE_TMPDIR/www/index.html")" ]
	start_peer ECHO echo 127.0.0.2
	run -0 timeout 20 ncat --proxy "127.0.0.1:$USERS_PORT" \
		--proxy-type socks5 \
		--proxy-auth alice:wonderland 127.0.0.2 "$ECHO_PORT" <<< "$msg"
	[ "$output" = "$msg" ]
	run ! timeout 20 ncat --proxy "127.0.0.1:$USERS_PORT" \
		--proxy-type socks5 \
		--proxy-auth alice:wonderlant 127.0.0.2 "$ECHO_PORT" <<< "$msg"
	[ "$(grep -c '<User> :alice' "$USERS_LOG")" -ge 2 ] ||
		die "logins not recorded"
}

# and a hash this build cannot check; as root, in a directory nobody may
# search, as a listener's sessions need
@test "socks4d -t checks the users file: good, malformed (file:line)" {
	local u
	shared_dir
	u=$SHARED/users
	printf 'permit c 127.0.0.0/8\n' >"$BATS_TEST_TMPDIR/conf"
	users_file "$u" alice wonderland bob builder
	chmod 644 "$u"
	run -0 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/conf" -u "$u"
	[ "${lines[1]}" = "$u: 2 users, OK" ]
	printf 'carol\n' >>"$u"
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/conf" -u "$u"
	[ "${lines[1]}" = "$u:3: no ':' between name and hash" ]
	[ "${lines[2]}" = "$u: every SOCKS5 login fails until fixed" ]
	# it checks what crypt(3) does
	case $("$SOCKS4D" -V) in *glibc*) return 0 ;; esac
	users_file "$u" alice wonderland
	printf '%s%s\n' 'dave:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$' \
		'X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7' >>"$u"
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/conf" -u "$u"
	local why="a kind of hash this build cannot check (it checks \$6\$):"
	[[ "$output" == *"$u:2: $why that login always fails"* ]] ||
		die "$output"
}

@test "socks4d -t: a name listed twice fails, as every login then does" {
	local u
	shared_dir
	u=$SHARED/users
	printf 'permit c 127.0.0.0/8\n' >"$BATS_TEST_TMPDIR/conf"
	users_file "$u" alice wonderland bob builder alice other
	chmod 644 "$u"
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/conf" -u "$u"
	[ "${lines[1]}" = "$u:3: name listed again (first on line 1)" ]
	[ "${lines[2]}" = "$u: every SOCKS5 login fails until fixed" ]
	# the live path agrees: bob, listed once, cannot log in either
	SOCKS_LOG=$BATS_TEST_TMPDIR/twice.log
	start_socks4d "$BATS_TEST_TMPDIR/conf" -u "$u"
	run ! curl -sS --fail --max-time 20 --proxy-user bob:builder \
		--socks5 "127.0.0.1:$SOCKS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	wait_for_log "$SOCKS_LOG" "login failed for bob: $u:3: name listed\
 again (first on line 1)"
}

# (a listener started as root opens it in each session as nobody)
@test "socks4d -t as root: a users file nobody cannot read fails" {
	local u why
	shared_dir
	u=$SHARED/users
	printf 'permit c 127.0.0.0/8\n' >"$BATS_TEST_TMPDIR/conf"
	users_file "$u" alice wonderland
	chmod 600 "$u"
	[ "$(id -u)" = 0 ]
	[ "$(stat -c %u "$u")" = 0 ]
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/conf" -u "$u"
	why="socks4d: $u: Permission denied, as uid 65534 gid 65534, whom root"
	why+=" becomes: a listener (-l) started as root fails every SOCKS5"
	[ "${lines[1]}" = "$why login" ] || die "$output"
	[ "${#lines[@]}" = 2 ]
	# group nogroup may read it: good
	chgrp 65534 "$u"
	chmod 640 "$u"
	run -0 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/conf" -u "$u"
	[ "${lines[1]}" = "$u: 1 user, OK" ]
}

@test "socks4d -t -u FILE that does not exist: said, exit 1" {
	printf 'permit c 127.0.0.0/8\n' >"$BATS_TEST_TMPDIR/conf"
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/conf" -u /nonexistent
	[ "${lines[1]}" = "socks4d: -u: /nonexistent: No such file or\
 directory: SOCKS5 clients would get no login" ]
}

@test "a users file that cannot be opened: the login names it and why" {
	printf 'permit c 127.0.0.0/8\n' >"$BATS_TEST_TMPDIR/conf"
	mkdir "$BATS_TEST_TMPDIR/users.d"
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/conf" \
		-u "$BATS_TEST_TMPDIR/users.d"
	[ "${lines[1]}" = "socks4d: $BATS_TEST_TMPDIR/users.d: not a regular\
 file: every SOCKS5 login fails" ]
	SOCKS_LOG=$BATS_TEST_TMPDIR/unopened.log
	start_socks4d "$BATS_TEST_TMPDIR/conf" -u "$BATS_TEST_TMPDIR/users.d"
	run ! curl -sS --fail --max-time 20 --proxy-user alice:wonderland \
		--socks5 "127.0.0.1:$SOCKS_PORT" \
		"http://127.0.0.2:$HTTP_PORT/index.html"
	wait_for_log "$SOCKS_LOG" "login failed for alice: the users file\
 cannot be opened: $BATS_TEST_TMPDIR/users.d: not a regular file"
}
