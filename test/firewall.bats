#!/usr/bin/env bats
# The socks.conf firewall: live decisions (90/91, and a rejected request
# never reaches its destination), the classic rule files and the extensions
# through `socks4d -t`, malformed and missing files, edits without restart.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=30
load test_helper

setup_file() {
	# a link to the test's own file
	export CONF=$BATS_FILE_TMPDIR/socks.conf
	export ACCEPTS=$BATS_FILE_TMPDIR/accepts.log \
		V6_ACCEPTS=$BATS_FILE_TMPDIR/accepts6.log
	: > "$ACCEPTS"
	: > "$V6_ACCEPTS"
	printf 'permit c 127.0.0.0/8\n' > "$BATS_FILE_TMPDIR/initial.conf"
	ln -sfn "$BATS_FILE_TMPDIR/initial.conf" "$CONF"
	start_peer ECHO echo 127.0.0.2 --accept-log "$ACCEPTS"
	start_peer V6 echo ::1 --accept-log "$V6_ACCEPTS"
	start_socks4d "$CONF" -T 3
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID" "$V6_PID"
}

# fwcheck FILE-LINES -- ARGS...: `socks4d -t` on a file of those lines.
fwcheck() {
	local lines=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do lines+=("$1"); shift; done
	shift $(($# > 0))
	printf '%s\n' "${lines[@]}" > "$BATS_TEST_TMPDIR/check.conf"
	"$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/check.conf" "$@"
}

# try_echo: CONNECT to the echo peer from a fresh port CPORT, send "ping",
# print the reply and the echo in hex.
try_echo() {
	CPORT=$(client_port)
	raw "$CPORT" "$SOCKS_PORT" "$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
}
granted() { echo "005a$(hex4 "$ECHO_PORT")7f000002$(hex 'ping\n')"; }
rejected() { echo "005b$(hex4 "$ECHO_PORT")7f000002"; }
accepts() { wc -l < "$ACCEPTS"; }

# assert_rejected_untouched: the last try got 91, socks4d exited 1, and the
# destination saw no connection.
assert_rejected_untouched() {
	local before=$1 pid
	[ "$output" = "$(rejected)" ] || die "expected 91, got: $output"
	pid=$(conn_pid "$CPORT")
	[ "$(exit_code "$pid")" = 1 ] || die "socks4d did not exit 1"
	[ "$(accepts)" = "$before" ] || die "the destination was contacted"
}

@test "permitted: 90, relayed, the destination sees the connection" {
	local before
	conf 'permit c 127.0.0.2'
	before=$(accepts)
	run -0 try_echo
	[ "$output" = "$(granted)" ]
	[ "$(accepts)" = $((before + 1)) ]
}

@test "no matching rule: 91, and the destination sees no connection" {
	local before
	conf 'permit c 127.0.0.3' 'permit b 127.0.0.2' \
		'permit c 127.0.0.2 port 1-1023'
	before=$(accepts)
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
	assert_rejected_untouched "$before"
	run -0 record_of "$CPORT"
	[[ "$output" \
		== *$'<Reply> :Reject\n<Reason> :no rule in '"$CONF matches"* ]]
	# control: the same request once a rule permits it
	conf 'permit c 127.0.0.2'
	run -0 try_echo
	[ "$output" = "$(granted)" ]
	[ "$(accepts)" = $((before + 1)) ]
}

@test "deny rule: 91, and the destination sees no connection" {
	local before
	conf 'deny c 127.0.0.2' 'permit c 127.0.0.0/8'
	before=$(accepts)
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
	assert_rejected_untouched "$before"
	run -0 record_of "$CPORT"
	[[ "$output" == *"<Reason> :$CONF:1 denies"* ]]
}

@test "first match wins, live" {
	local before
	conf '# the port rule comes first' \
		"permit c 127.0.0.2 port $ECHO_PORT" 'deny c 127.0.0.0/8'
	run -0 try_echo
	[ "$output" = "$(granted)" ]
	conf "deny c 127.0.0.2 port $ECHO_PORT" 'permit c 127.0.0.0/8'
	before=$(accepts)
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
	assert_rejected_untouched "$before"
}

@test "a SOCKS4a name is checked as the address it resolves to" {
	local before
	# DSTIP 0.0.0.1 must not be what the rules see
	conf 'deny c 127.0.0.2' 'permit c 0.0.0.0/0'
	before=$(accepts)
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 0.0.0.1 fw 127.0.0.2)ping\n"
	[ "$output" = "005b$(hex4 "$ECHO_PORT")00000001" ]
	[ "$(exit_code "$(conn_pid "$CPORT")")" = 1 ]
	[ "$(accepts)" = "$before" ]
	conf 'permit c 127.0.0.2'
	run -0 raw "$(client_port)" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 0.0.0.1 fw 127.0.0.2)ping\n"
	[ "$output" = "005a$(hex4 "$ECHO_PORT")00000001$(hex 'ping\n')" ]
}

@test "IPv6 destinations: permit c ::1 lets a SOCKS4a request for ::1 through" {
	local before
	conf 'permit c ::1'
	before=$(wc -l < "$V6_ACCEPTS")
	run -0 raw "$(client_port)" "$SOCKS_PORT" \
		"$(req 1 "$V6_PORT" 0.0.0.1 fw ::1)ping6\n"
	[ "$output" = "005a$(hex4 "$V6_PORT")00000001$(hex 'ping6\n')" ]
	[ "$(wc -l < "$V6_ACCEPTS")" = $((before + 1)) ]
	# an IPv4-only firewall rejects it, and ::1 is never contacted
	conf 'permit c 127.0.0.0/8' 'permit c *.*.*.*'
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$V6_PORT" 0.0.0.1 fw ::1)ping6\n"
	[ "$output" = "005b$(hex4 "$V6_PORT")00000001" ]
	[ "$(exit_code "$(conn_pid "$CPORT")")" = 1 ]
	[ "$(wc -l < "$V6_ACCEPTS")" = $((before + 1)) ]
}

@test "from SOURCE and port N-M, live" {
	local ports="$((ECHO_PORT - 1))-$((ECHO_PORT + 1))"
	conf "permit c 127.0.0.0/8 port $ports from 127.0.0.5"
	# from 127.0.0.5: permitted
	printf "$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n" >"$BATS_TEST_TMPDIR/r"
	out=$(timeout 10 socat -t 3 \
		- "TCP:127.0.0.1:$SOCKS_PORT,bind=127.0.0.5" \
		<"$BATS_TEST_TMPDIR/r" | hex)
	[ "$out" = "$(granted)" ]
	# from 127.0.0.1: rejected
	run -0 try_echo
	[ "$output" = "$(rejected)" ]
	# right source, port outside the range: rejected
	conf "permit c 127.0.0.0/8 port $((ECHO_PORT + 1))-65535 from 127.0.0.1"
	run -0 try_echo
	[ "$output" = "$(rejected)" ]
	conf "permit c 127.0.0.0/8 port $ECHO_PORT from 127.0.0.0/24"
	run -0 try_echo
	[ "$output" = "$(granted)" ]
}

@test "classic file: permit c *.*.*.* allows every IPv4 CONNECT, no BIND" {
	local f=(
		'# allow all'
		'permit c *.*.*.*'
	)
	for a in 140.113.1.2 140.114.200.1 8.8.8.8 255.255.255.255 127.0.0.2; do
		run -0 fwcheck "${f[@]}" -- c "$a"
		[[ "$output" \
			== "permit (${BATS_TEST_TMPDIR}/check.conf:2 permits)" \
			]]
	done
	# as live: 0.0.0.0/8 is never a destination, whatever the rules say
	run -1 fwcheck "${f[@]}" -- c 0.0.0.1 80
	[ "$output" = "reject (destination 0.0.0.0 or port 0)" ]
	run -1 fwcheck "${f[@]}" -- b 140.113.1.2
	[[ "$output" == "reject (no rule in "*" matches)" ]]
}

@test "classic file: only permit c 140.113.*.*" {
	local f=('permit c 140.113.*.*      # CONNECT to NCTU')
	for a in 140.113.0.0 140.113.1.2 140.113.255.255; do
		run -0 fwcheck "${f[@]}" -- c "$a" 80
		[ "$output" \
			= "permit (${BATS_TEST_TMPDIR}/check.conf:1 permits)" ]
	done
	for a in 140.114.1.2 140.112.1.2 141.113.1.2 10.140.113.1 113.140.1.1 \
		127.0.0.2; do
		run -1 fwcheck "${f[@]}" -- c "$a" 80
		[[ "$output" == "reject ("* ]]
	done
	run -1 fwcheck "${f[@]}" -- b 140.113.1.2
	# live: the local echo peer is not in 140.113/16
	conf "${f[@]}"
	local before=$(accepts)
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
	assert_rejected_untouched "$before"
}

@test "classic file: only permit c 140.114.*.*" {
	local f=('' '# NTHU only' '' \
		'permit c 140.114.*.*      # CONNECT to NTHU' '')
	for a in 140.114.0.1 140.114.77.3 140.114.255.254; do
		run -0 fwcheck "${f[@]}" -- c "$a" 443
		[ "$output" \
			= "permit (${BATS_TEST_TMPDIR}/check.conf:4 permits)" ]
	done
	for a in 140.113.1.2 140.115.1.1 114.140.1.1 1.140.114.1; do
		run -1 fwcheck "${f[@]}" -- c "$a" 443
		[[ "$output" == "reject ("* ]]
	done
}

@test "the classic three-line file from the assignment" {
	local f=('permit c 140.114.*.*' 'permit c 140.113.*.*' \
		'permit b *.*.*.*')
	run -0 fwcheck "${f[@]}"
	[ "${lines[0]}" = "$BATS_TEST_TMPDIR/check.conf: 3 rules, OK" ]
	run -0 fwcheck "${f[@]}" -- c 140.114.3.4
	[[ "$output" == *":1 permits)" ]]
	run -0 fwcheck "${f[@]}" -- c 140.113.3.4
	[[ "$output" == *":2 permits)" ]]
	run -1 fwcheck "${f[@]}" -- c 140.112.3.4
	run -0 fwcheck "${f[@]}" -- b 9.9.9.9
	[[ "$output" == *":3 permits)" ]]
	# the same file with CRLF line ends
	printf '%s\r\n' "${f[@]}" > "$BATS_TEST_TMPDIR/crlf.conf"
	run -0 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/crlf.conf" c 140.113.3.4
	[[ "$output" == *":2 permits)" ]]
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/crlf.conf" c 140.112.3.4
	# octet patterns with * in the middle
	run -0 fwcheck 'permit c 10.*.0.1' -- c 10.200.0.1
	run -1 fwcheck 'permit c 10.*.0.1' -- c 10.200.0.2
}

@test "deny, first match wins, no match rejects (socks4d -t)" {
	local f=('deny c 140.113.1.*' 'permit c 140.113.*.*' 'deny c *.*.*.*')
	run -1 fwcheck "${f[@]}" -- c 140.113.1.9
	[[ "$output" == "reject ("*":1 denies)" ]]
	run -0 fwcheck "${f[@]}" -- c 140.113.2.9
	[[ "$output" == "permit ("*":2 permits)" ]]
	run -1 fwcheck "${f[@]}" -- c 8.8.8.8
	[[ "$output" == "reject ("*":3 denies)" ]]
	run -1 fwcheck 'permit c 1.2.3.4' -- c 1.2.3.5
	[[ "$output" == "reject (no rule in "*" matches)" ]]
	run -1 fwcheck '# nothing but a comment' -- c 1.2.3.4
}

@test "CIDR rules, IPv4 and IPv6" {
	run -0 fwcheck 'permit c 10.0.0.0/8' -- c 10.255.1.2
	run -1 fwcheck 'permit c 10.0.0.0/8' -- c 11.0.0.1
	run -0 fwcheck 'permit c 172.16.0.0/12' -- c 172.31.255.255
	run -1 fwcheck 'permit c 172.16.0.0/12' -- c 172.32.0.0
	run -1 fwcheck 'permit c 172.16.0.0/12' -- c 172.15.255.255
	run -0 fwcheck 'permit c 192.0.2.7/32' -- c 192.0.2.7
	run -1 fwcheck 'permit c 192.0.2.7/32' -- c 192.0.2.6
	run -0 fwcheck 'permit c 0.0.0.0/0' -- c 203.0.113.9
	run -0 fwcheck 'permit c 127.0.0.1' -- c 127.0.0.1
	run -1 fwcheck 'permit c 127.0.0.1' -- c 127.0.0.2
	run -0 fwcheck 'permit c ::1' -- c ::1
	run -1 fwcheck 'permit c ::1' -- c ::2
	run -1 fwcheck 'permit c ::1' -- c 127.0.0.1
	run -0 fwcheck 'permit c ::1/128' -- c ::1
	run -0 fwcheck 'permit c fd00::/8' -- c fd12:3456::1
	run -1 fwcheck 'permit c fd00::/8' -- c fe80::1
	run -0 fwcheck 'permit c 2001:db8::/32' -- c 2001:db8:ffff::1
	run -1 fwcheck 'permit c 2001:db8::/32' -- c 2001:db9::1
	run -1 fwcheck 'permit c 127.0.0.0/8' -- c ::1
}

@test "c, b and cb" {
	run -0 fwcheck 'permit cb 10.0.0.0/8' -- c 10.1.1.1
	run -0 fwcheck 'permit cb 10.0.0.0/8' -- b 10.1.1.1
	run -0 fwcheck 'permit b 10.0.0.0/8' -- b 10.1.1.1
	run -1 fwcheck 'permit b 10.0.0.0/8' -- c 10.1.1.1
	run -1 fwcheck 'permit c 10.0.0.0/8' -- b 10.1.1.1
	run -1 fwcheck 'deny b 10.1.1.1' 'permit cb *' -- b 10.1.1.1
	run -0 fwcheck 'deny b 10.1.1.1' 'permit cb *' -- c 10.1.1.1
}

@test "port N and port N-M" {
	local f=('permit c 10.0.0.0/8 port 80-90' \
		'permit c 10.0.0.0/8 port 443')
	run -0 fwcheck "${f[@]}" -- c 10.0.0.1 80
	run -0 fwcheck "${f[@]}" -- c 10.0.0.1 85
	run -0 fwcheck "${f[@]}" -- c 10.0.0.1 90
	run -0 fwcheck "${f[@]}" -- c 10.0.0.1 443
	run -1 fwcheck "${f[@]}" -- c 10.0.0.1 79
	run -1 fwcheck "${f[@]}" -- c 10.0.0.1 91
	run -1 fwcheck "${f[@]}" -- c 10.0.0.1 442
	run -1 fwcheck "${f[@]}" -- c 11.0.0.1 80
	run -0 fwcheck 'permit c * port 0-65535' -- c 10.0.0.1 65535
}

@test "from SOURCE" {
	local f=('permit c * from 10.1.0.0/16' \
		'permit c 192.0.2.1 from 140.113.*.*')
	run -0 fwcheck "${f[@]}" -- c 1.2.3.4 80 10.1.2.3
	run -1 fwcheck "${f[@]}" -- c 1.2.3.4 80 10.2.0.1
	run -0 fwcheck "${f[@]}" -- c 192.0.2.1 80 140.113.9.9
	run -1 fwcheck "${f[@]}" -- c 192.0.2.1 80 140.114.9.9
	run -0 fwcheck 'permit c ::1 port 8080 from ::1' -- c ::1 8080 ::1
	run -1 fwcheck 'permit c ::1 port 8080 from ::1' -- c ::1 8080 ::2
	run -1 fwcheck 'permit c ::1 port 8080 from ::1' -- c ::1 8081 ::1
}

@test "malformed lines: socks4d -t names file:line and exits 1" {
	local bad
	for bad in 'allow c 1.2.3.4' 'PERMIT c 1.2.3.4' 'permit x 1.2.3.4' \
		'permit c' \
		'permit c 1.2.3' 'permit c 1.2.3.4.5' 'permit c 1.2.3.256' \
		'permit c 1.2.*' \
		'permit c 140.113.*.*/16' 'permit c 10.0.0.0/33' \
		'permit c ::1/129' \
		'permit c 10.0.0.0/x' 'permit c *.example.org' \
		'permit c exa!mple.org' 'permit c example..org' \
		'permit c example.org/8' 'permit c .' 'permit c 10.1' \
		'permit c 1.2.3.4 port' \
		'permit c 1.2.3.4 port 90-80' 'permit c 1.2.3.4 port 65536' \
		'permit c 1.2.3.4 port http' 'permit c 1.2.3.4 from' \
		'permit c 1.2.3.4 from nowhere' 'permit c 1.2.3.4 to 5.6.7.8' \
		'permit c 1.2.3.4 port 1 from * extra' \
		"permit c $(printf '1%.0s' {1..600})"; do
		run -1 fwcheck '# a good start' 'permit c 10.0.0.0/8' '' \
			"$bad" 'permit b *' -- c 10.0.0.1
		[[ "$output" == "$BATS_TEST_TMPDIR/check.conf:4: "?* ]] ||
			die "'$bad': $output"
		[[ "$output" != *permit\ \(* ]] ||
			die "'$bad' still permits: $output"
	done
	# every bad line is named, and a good file gets a short verdict
	run -1 fwcheck 'bogus' 'permit c 1.2.3.4' 'also bogus' --
	local not="is not 'permit' or 'deny'"
	[ "${lines[0]}" = "$BATS_TEST_TMPDIR/check.conf:1: 'bogus' $not" ]
	[ "${lines[1]}" = "$BATS_TEST_TMPDIR/check.conf:3: 'also' $not" ]
	run -0 fwcheck 'permit c 1.2.3.4' '' '# comment' --
	[ "${lines[0]}" = "$BATS_TEST_TMPDIR/check.conf: 1 rule, OK" ]
}

# the log names file:line
@test "a malformed line rejects live requests (fail closed)" {
	local before
	conf 'permit c 127.0.0.0/8' '' 'permit c 127.0.0.2 port eighty'
	before=$(accepts)
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
	assert_rejected_untouched "$before"
	run -0 record_of "$CPORT"
	[[ "$output" == \
		*"<Reason> :$CONF:3: 'eighty' is not a port or range"* ]]
}

@test "a missing socks.conf rejects everything, with a clear message" {
	local before
	ln -sfn "$BATS_TEST_TMPDIR/no-such.conf" "$CONF"
	before=$(accepts)
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
	assert_rejected_untouched "$before"
	run -0 record_of "$CPORT"
	[[ "$output" == *"<Reason> :$CONF: No such file or directory"* ]]
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/no-such.conf"
	[[ "$output" \
		== \
		*"$BATS_TEST_TMPDIR/no-such.conf: No such file or directory"* ]]
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/no-such.conf" c 127.0.0.1
	[[ "$output" != *permit* ]]
	# too large to be read whole is refused too, not read in part
	{ echo 'permit c 127.0.0.0/8'; for i in $(seq 2000); do echo \
		"# padding line $i of a socks.conf over 64 KiB"; done; } \
		> "$BATS_TEST_TMPDIR/huge.conf"
	run -1 "$SOCKS4D" -t -c "$BATS_TEST_TMPDIR/huge.conf" c 127.0.0.2
	[[ "$output" == *"huge.conf: larger than 64 KiB"* ]]
}

@test "editing socks.conf takes effect on the next connection, no restart" {
	local file=$BATS_TEST_TMPDIR/socks.conf
	conf 'deny c 127.0.0.2'
	run -0 try_echo
	[ "$output" = "$(rejected)" ]
	printf 'permit c 127.0.0.2\n' > "$file"
	run -0 try_echo
	[ "$output" = "$(granted)" ]
	# after the permit: no change
	printf 'deny c 127.0.0.0/8\n' >> "$file"
	run -0 try_echo
	[ "$output" = "$(granted)" ]
	printf 'deny c 127.0.0.2\npermit c 127.0.0.2\n' > "$file"
	run -0 try_echo
	[ "$output" = "$(rejected)" ]
	kill -0 "$SOCKS_PID"
}

# (0, ::) past a loopback deny
@test "a SOCKS4a name for the unspecified address never slips past a deny" {
	conf 'deny c 127.0.0.0/8' 'deny c ::1' 'permit c *'
	for name in 0 0.0.0.0 0x0 ::; do
		CPORT=$(client_port)
		run -0 raw "$CPORT" "$SOCKS_PORT" \
			"$(req 1 "$ECHO_PORT" 0.0.0.1 fw "$name")ping\n"
		[ "$output" = "005b$(hex4 "$ECHO_PORT")00000001" ] ||
			die "$name: $output"
		run -0 record_of "$CPORT"
		[[ "$output" == *"<Reason> :destination 0.0.0.0 or port 0"* \
			]] || die "$name: $output"
	done
}

# a mapped block under /96 is an error
@test "IPv4-mapped IPv6 patterns match IPv4 addresses" {
	run -1 fwcheck 'deny c ::ffff:127.0.0.0/104' 'permit c *' -- c \
		127.0.0.1 80
	[[ "$output" == "reject ("*":1 denies)" ]]
	run -1 fwcheck 'deny c ::ffff:127.0.0.0/104' 'permit c *' -- c \
		::ffff:127.0.0.1 80
	[[ "$output" == "reject ("*":1 denies)" ]]
	run -0 fwcheck 'deny c ::ffff:127.0.0.0/104' 'permit c *' -- c \
		10.0.0.1 80
	run -1 fwcheck 'deny c ::ffff:0.0.0.0/64' -- c 10.0.0.1 80
	[[ "$output" == *":1: '::ffff:0.0.0.0/64' is not an address pattern"* ]]
}

# table: the request | what is wrong with it (exit 2, one line)
@test "socks4d -t with a malformed request says what is malformed" {
	local args want form=": c|b|u ADDRESS [PORT [SOURCE [USER]]]"
	while IFS='|' read -r args want; do
		read -ra argv <<<"$args"
		run -2 fwcheck 'permit c *' -- "${argv[@]}"
		[ "$output" = "socks4d: -t: ${want# }; see socks4d -h" ] ||
			die "-t $args: $output"
	done <<ROWS
c                        | 'c' needs an address$form
z 1.2.3.4                | 'z' is not c, b or u
cb 1.2.3.4               | 'cb' is not c, b or u
c 1.2.3.4 99999          | port '99999' is out of range 0..65535
c 1.2.3.4 http           | port 'http' is not a number in 0..65535
c 1.2.3.4 80 nowhere     | source 'nowhere' is not a numeric address
c 1.2.3.4 80 ::1 bob one | 'one' is one argument too many$form
ROWS
}

# table: the line | the field quoted, and what belongs there
@test "socks.conf errors quote the field and say what belongs there" {
	local line want pat='(a.b.c.d with * octets, ADDR, ADDR/BITS, or *)'
	local dst='is not an address pattern or host name (a.b.c.d with *'
	dst+=' octets, ADDR, ADDR/BITS, *, NAME, or .DOMAIN: it and every name'
	dst+=' under it)'
	local form='(permit|deny c|b|u ADDRESS [port N[-M]] [from SOURCE]'
	form+=' [user NAME[,NAME...]])'
	local comma='follows a user list: names are comma-separated'
	comma+=' (user NAME,NAME)'
	local ports='is not a port or range (N or N-M, 0..65535)'
	local list='is not a user list (NAME[,NAME...], no blanks, names of'
	list+=' 1..255 bytes)'
	while IFS='|' read -r line want; do
		line=${line%"${line##*[! ]}"}
		run -1 fwcheck "$line" --
		[ "$output" = "$BATS_TEST_TMPDIR/check.conf:1: ${want# }
$BATS_TEST_TMPDIR/check.conf: rejects every request until fixed" ] ||
			die "'$line': $output"
	done <<ROWS
allow c *                     | 'allow' is not 'permit' or 'deny'
permit                        | 'permit' needs commands and an address \
after it $form
permit c                      | 'c' needs an address after it $form
permit cx *                   | 'cx' is not commands: letters of c, b and u
permit c x.y.1                | 'x.y.1' $dst
permit c *.example.com        | '*.example.com' is not a pattern: a name \
and every name under it are written .example.com
permit c a..example.com       | 'a..example.com' $dst
permit c * from 10.0.0.0/33   | '10.0.0.0/33' is not a source pattern $pat
permit c * port 90-80         | '90-80' $ports
permit c * port               | 'port' needs a port or range
permit c * from * from *      | 'from' is given twice
permit c * user alice bob     | 'bob' $comma
permit c * user alice, bob    | 'alice,' $list
permit c * user               | 'user' needs names (NAME[,NAME...])
permit c * to 1.2.3.4         | 'to' is not 'port', 'from' or 'user' $form
permit c * from * user a b c  | 'b' $comma
permit c * port 1 user a to   | 'to' $comma
ROWS
	# a long field is cut short, outside bytes escaped
	run -1 fwcheck "permit c $(printf 'x%.0s' {1..100})"$'\x01' --
	[ "${lines[0]}" = "$BATS_TEST_TMPDIR/check.conf:1: '$(printf 'x%.0s' \
		{1..64})...' has a label longer than 63 bytes" ] || die "$output"
	run -1 fwcheck $'permit c \x01' --
	[ "${lines[0]}" = "$BATS_TEST_TMPDIR/check.conf:1: '\x01' $dst" ] ||
		die "$output"
}

@test "socks4d -t says when there is no users file, and warns of 'user' rules" {
	local f=$BATS_TEST_TMPDIR/check.conf
	printf 'permit c * from 127.0.0.0/8\n' >"$f"
	run -0 no_default_users "$SOCKS4D" -t -c "$f"
	[ "${lines[0]}" = "$f: 1 rule, OK" ]
	[ "${lines[1]}" = "no users file ($(default_users): No such file or\
 directory; -u names one): SOCKS5 clients get no login, 'user' rules never\
 match" ]
	[ "${#lines[@]}" = 2 ]
	printf 'permit c * from 127.0.0.0/8\npermit c * user alice,bob\n' >"$f"
	run -0 no_default_users "$SOCKS4D" -t -c "$f"
	[ "${lines[2]}" = "socks4d: warning: $f:2: 'user' never matches without\
 a users file" ]
}

@test "no sanitizer reports in the log" {
	no_sanitizer_reports "$SOCKS_LOG"
}

# not a rule cut short
@test "fail closed: a NUL byte in a line is a malformed line" {
	local f=$BATS_TEST_TMPDIR/nul.conf before
	# read as C text, the line would end at the NUL and permit every port
	printf 'deny c 127.0.0.2\0 port 1\npermit c 127.0.0.0/8\n' > "$f"
	run -1 "$SOCKS4D" -t -c "$f"
	[ "${lines[0]}" = "$f:1: NUL byte in the line" ]
	printf 'permit c 127.0.0.2\0 port 1\n' > "$BATS_TEST_TMPDIR/socks.conf"
	ln -sfn "$BATS_TEST_TMPDIR/socks.conf" "$CONF"
	before=$(accepts)
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
	assert_rejected_untouched "$before"
	run -0 record_of "$CPORT"
	[[ "$output" == *"<Reason> :$CONF:1: NUL byte in the line"* ]]
}

# (a FIFO) rejects at once, never hangs
@test "fail closed: a socks.conf that is not a regular file" {
	local fifo=$BATS_TEST_TMPDIR/fifo.conf before t0 ms
	mkfifo "$fifo"
	run -1 timeout 5 "$SOCKS4D" -t -c "$fifo"
	[ "$output" = "socks4d: $fifo: not a regular file" ]
	ln -sfn "$fifo" "$CONF"
	before=$(accepts)
	t0=${EPOCHREALTIME/./}
	CPORT=$(client_port)
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 127.0.0.2 fw)ping\n"
	ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	(( ms < 2500 )) || die "took $ms ms"
	assert_rejected_untouched "$before"
	run -0 record_of "$CPORT"
	[[ "$output" == *"<Reason> :$CONF: not a regular file"* ]]
}

@test "a reason that carries a SOCKS4a name is escaped like every other field" {
	CPORT=$(client_port)
	conf 'permit c 127.0.0.0/8'
	run -0 raw "$CPORT" "$SOCKS_PORT" \
		"$(req 1 "$ECHO_PORT" 0.0.0.1 fw 'no\\"such.invalid')"
	[ "$output" = "005b$(hex4 "$ECHO_PORT")00000001" ]
	run -0 record_of "$CPORT"
	[[ "$output" == *'<Reason> :cannot resolve no\\\x22such.invalid'* ]] ||
		die "$output"
}
