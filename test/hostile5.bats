#!/usr/bin/env bats
# Malformed and hostile SOCKS5 clients (RFC 1928, RFC 1929), end to end and
# table-driven like hostile.bats (hostile_probe.py runs each row as a raw
# client). Every row states the exact bytes that come back, how and when
# the connection ends, socks4d's exit status and the reason it logs. After
# each test: no socks4d left, no sanitizer report, no death by signal,
# nothing reached the trap, and the next clients (SOCKS4 and SOCKS5) are
# served. Deadlines: -T 6 (request), -C 3 (connect, name lookup), -B 3.
#
# What socks4d answers (the RFC's codes): a greeting offering nothing it
# can use gets 05 FF; a failed login 01 01; a bad request 05 REP 00 01 and
# ten zero bytes' worth of address (REP 07 command, 08 address type, 01
# anything else malformed); each is followed by a close.
#
# Table columns (see hostile_probe.py):
#   label | steps | reply | end | exit | reason | ms
# $EP is the echo server's port (127.0.0.2, 7f000002), $TP the trap's.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=180
load test_helper

# A failure reply: REP, ATYP 1, 0.0.0.0 port 0.
F01=05010001000000000000
F07=05070001000000000000
F08=05080001000000000000

setup_file() {
	export TRAPLOG=$BATS_FILE_TMPDIR/trap.log
	: > "$TRAPLOG"
	printf 'permit c 127.0.0.0/8\npermit b 127.0.0.0/8\n' \
		> "$BATS_FILE_TMPDIR/socks.conf"
	users_file "$BATS_FILE_TMPDIR/socks.passwd" alice wonderland
	start_peer ECHO echo 127.0.0.2
	start_peer TRAP echo 127.0.0.2 --accept-log "$TRAPLOG"
	start_socks4d "$BATS_FILE_TMPDIR/socks.conf" \
		-u "$BATS_FILE_TMPDIR/socks.passwd" -T 6 -C 3 -B 3
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID" "$TRAP_PID"
}

teardown() {
	invariants_held
	probe <<-'EOF'
	next SOCKS5 client | x:050100+050100017f000002+$EP+'still-here' shut
	    | 0500+05000001+~[0-9a-f]{12}+'still-here' | eof | 0
	    | both sides closed | 0-5000
	EOF
}

# login NAME PASSWORD: an RFC 1929 subnegotiation, in hex.
login() {
	printf '01%02x%s%02x%s' "${#1}" "$(printf %s "$1" | hex)" \
		"${#2}" "$(printf %s "$2" | hex)"
}

# prefix HEX K: the first K bytes of HEX.
prefix() { printf '%s' "${1:0:$((2 * $2))}"; }

@test "greeting: no methods, nothing usable, 255 methods" {
	local none usable all m
	none=; usable=; all=
	for m in {3..255}; do none+=$(printf '%02x' "$m"); done
	none=01$none$(printf '%02x' 254)	# 255 methods, neither 00 nor 02
	for m in {1..254}; do usable+=01; done
	{
		cat <<-EOF
		no methods | x:0500 shut | 05ff | eof | 1
		    | no authentication methods offered | 0-5000
		no methods, no half-close | x:0500 | 05ff | eof | 1
		    | no authentication methods offered | 0-5000
		only GSSAPI | x:050101 shut | 05ff | eof | 1
		    | no acceptable method | 0-5000
		255 methods, none usable | x:05ff+$none shut | 05ff | eof | 1
		    | no acceptable method | 0-5000
		255 methods, 00 last
		    | x:05ff+${usable}00+050100017f000002+\$EP+'hi' shut
		    | 0500+05000001+~[0-9a-f]{12}+'hi' | eof | 0
		    | both sides closed | 0-5000
		00 and 02 offered: the users file decides for 02
		    | x:05020002 shut | 0502 | eof | 1 | ~client closed before
		    | 0-5000
		EOF
	} | probe
}

@test "greeting truncated at every byte, then half-close or reset" {
	local g=05020002 k
	{
		for k in 1 2 3; do
			echo "greeting, first $k bytes, half-close" \
				"| x:$(prefix "$g" "$k") shut | - | eof | 1" \
				"| ~client closed before | 0-5000"
			# no reason checked: a reset that comes before socks4d
			# has
			# asked for its peer's address leaves a record without
			# it
			echo "greeting, first $k bytes, reset" \
				"| x:$(prefix "$g" "$k") rst | - | us | 1 | -" \
				"| 0-5000"
		done
	} | probe
}

# and an unknown name
@test "login: wrong version, empty name or password, wrong password" {
	local ok_req=050100017f000002
	probe --var "OK=$(login alice wonderland)" \
	      --var "WRONG=$(login alice wonderlant)" \
	      --var "NOBODY=$(login mallory wonderland)" \
	      --var "LONG=$(login "$(printf 'u%.0s' {1..255})" "$(printf \
	      'p%.0s' {1..255})")" \
	      --var "CTRL=0106611b5b33316d0178" <<-EOF
	right password, request, data | x:050102+\$OK+$ok_req+\$EP+'hi' shut
	    | 0502+0100+05000001+~[0-9a-f]{12}+'hi' | eof | 0
	    | both sides closed | 0-5000
	login version 5 | x:050102+0505+'alice'+01+'x' shut | 0502+0101 | eof
	    | 1 | login version is not 1 | 0-5000
	empty name | x:050102+0100+01+'x' shut | 0502+0101 | eof | 1
	    | empty user name | 0-5000
	empty password | x:050102+0105+'alice'+00 shut | 0502+0101 | eof | 1
	    | empty password | 0-5000
	wrong password | x:050102+\$WRONG+$ok_req+\$TP shut | 0502+0101 | eof
	    | 3 | ~alice.*wrong password | 0-5000
	unknown name | x:050102+\$NOBODY+$ok_req+\$TP shut | 0502+0101 | eof | 3
	    | ~mallory.*unknown user | 0-5000
	name and password of 255 bytes | x:050102+\$LONG shut | 0502+0101 | eof
	    | 3 | unknown user | 0-5000
	name with control bytes, escaped in the log | x:050102+\$CTRL shut
	    | 0502+0101 | eof | 3 | ~a\\\\x1b\[31m | 0-5000
	EOF
	# No password, right or wrong, is in the log.
	run ! grep -e wonderland -e wonderlant "$SOCKS_LOG"
}

@test "login truncated at every byte, then half-close" {
	local l k
	l=$(login alice wonderland)
	{
		for ((k = 1; k < ${#l} / 2; k++)); do
			echo "login, first $k bytes" \
				"| x:050102+$(prefix "$l" "$k") shut | 0502" \
				"| eof | 1 | ~client closed before | 0-5000"
		done
	} | probe --jobs 6
}

@test "request: wrong version, every bad CMD, RSV not 0, bad ATYP" {
	local cmd atyp
	local cmd_row="CMD %d | x:050100+05%02x0001+7f000002+\$TP shut"
	cmd_row+=" | 0500+%s | eof | 1"
	cmd_row+=" | command is not CONNECT, BIND or UDP ASSOCIATE | 0-5000\n"
	local atyp_row="ATYP %d | x:050100+050100%02x+7f000002+\$TP shut"
	atyp_row+=" | 0500+%s | eof | 1 | address type is not 1, 3 or 4"
	atyp_row+=" | 0-5000\n"
	{
		echo "request VER 4 | x:050100+04010001+7f000002+\$TP shut" \
			"| 0500+$F01 | eof | 1 | version is not 5 | 0-5000"
		echo "request RSV 1 | x:050100+05010101+7f000002+\$TP shut" \
			"| 0500+$F01 | eof | 1 | reserved byte is not 0" \
			"| 0-5000"
		echo "UDP ASSOCIATE, no u rule" \
			"| x:050100+05030001+00000000+0000 shut" \
			"| 0500+05020001000000000000 | eof | 1" \
			"| permits UDP ASSOCIATE | 0-5000"
		for cmd in 0 {4..255}; do
			printf "$cmd_row" "$cmd" "$cmd" "$F07"
		done
		for atyp in 0 2 5 6 255; do
			printf "$atyp_row" "$atyp" "$atyp" "$F08"
		done
	} | probe --jobs 6
}

# and x.invalid
@test "request names: length 0, NUL inside, control bytes, 255 bytes" {
	local b x
	{
		echo "name length 0 | x:050100+0501000300+\$TP shut" \
			"| 0500+$F01 | eof | 1 | empty name | 0-5000"
		echo "name with a NUL inside" \
			"| x:050100+050100030a+'local'+00+'host'+\$TP shut" \
			"| 0500+$F01 | eof | 1" \
			"| name has control, blank or non-ASCII bytes" \
			"| 0-5000"
		for b in 0a 0d 09 20 01 1b 7f 80 ff; do
			x="x:050100+050100030a+'local'+$b+'host'+\$TP"
			echo "name with byte $b" \
				"| $x shut" \
				"| 0500+$F01 | eof | 1" \
				"| name has control, blank or non-ASCII bytes" \
				"| 0-5000"
		done
		echo "name of 255 bytes, one label" \
			"| x:050100+05010003ff+61*255+\$TP shut" \
			"| 0500+05040001000000000000 | eof | 1" \
			"| cannot resolve | 0-5000"
		echo "name x.invalid" \
			"| x:050100+0501000309+'x.invalid'+\$TP shut" \
			"| 0500+05040001000000000000 | eof | 1" \
			"| cannot resolve x.invalid | 0-5000"
		echo "name 127.0.0.2" \
			"| x:050100+0501000309+'127.0.0.2'+\$EP+'ok' shut" \
			"| 0500+05000001+~[0-9a-f]{12}+'ok' | eof | 0" \
			"| both sides closed | 0-5000"
	} | probe
}

# then half-close or reset
@test "request truncated at every byte (IPv4, IPv6, name)" {
	local r4 r6 rn k rst='~client closed before|Connection reset by peer'
	r4=050100017f000002$(hex4 "$TRAP_PORT")
	r6=0501000400000000000000000000000000000001$(hex4 "$TRAP_PORT")
	rn=050100030b$(hex localhost.x)$(hex4 "$TRAP_PORT")
	{
		for ((k = 1; k < ${#r4} / 2; k++)); do
			echo "IPv4 request, first $k bytes" \
				"| x:050100+$(prefix "$r4" "$k") shut | 0500" \
				"| eof | 1 | ~client closed before | 0-5000"
			echo "IPv4 request, first $k bytes, reset" \
				"| x:050100+$(prefix "$r4" "$k") read:2:5 rst" \
				"| 0500 | us | 1" \
				"| $rst" \
				"| 0-5000"
		done
		for ((k = 1; k < ${#r6} / 2; k++)); do
			echo "IPv6 request, first $k bytes" \
				"| x:050100+$(prefix "$r6" "$k") shut | 0500" \
				"| eof | 1 | ~client closed before | 0-5000"
		done
		for ((k = 1; k < ${#rn} / 2; k++)); do
			echo "name request, first $k bytes" \
				"| x:050100+$(prefix "$rn" "$k") shut | 0500" \
				"| eof | 1 | ~client closed before | 0-5000"
		done
	} | probe --jobs 6
}

@test "pipelined: greeting, login, request and data in one segment" {
	probe --var "OK=$(login alice wonderland)" <<-'EOF'
	greeting, request, data | x:050100+050100017f000002+$EP+'early' shut
	    | 0500+05000001+~[0-9a-f]{12}+'early' | eof | 0 | both sides closed
	    | 0-5000
	greeting, login, request, data
	    | x:050102+$OK+050100017f000002+$EP+'early' shut
	    | 0502+0100+05000001+~[0-9a-f]{12}+'early' | eof | 0
	    | both sides closed | 0-5000
	bad request behind a greeting
	    | x:050100+05090001+7f000002+$TP+'early' shut
	    | 0500+05070001000000000000 | eof/rst | 1 | command is not | 0-5000
	EOF
}

@test "slow and silent SOCKS5 clients" {
	probe <<-'EOF'
	greeting, then silence | x:050100 wait:0 | 0500 | eof | 1
	    | ~no complete request within 6 s | 5800-9500
	login offered, then silence | x:050102 wait:0 | 0502 | eof | 1
	    | ~within 6 s | 5800-9500
	one byte a second | t:1:050100+050100017f000002+$TP | 0500 | eof | 1
	    | ~within 6 s | 5800-9500
	one byte every 0.1 s, done in 1.3 s
	    | t:0.1:050100+050100017f000002+$EP x:'ok' shut
	    | 0500+05000001+~[0-9a-f]{12}+'ok' | eof | 0 | both sides closed
	    | 1000-5000
	EOF
}
