#!/usr/bin/env bats
# Help and usage errors: -h and --help on stdout with exit 0; every bad
# option or value one line on stderr in one form, naming the option, the
# value and what it may be, then "see socks4d -h", with exit 2.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=30
load test_helper

@test "-h and --help: the usage on stdout, nothing on stderr, exit 0" {
	local opt
	for opt in -h --help; do
		run -0 --separate-stderr "$SOCKS4D" "$opt"
		[[ "${lines[0]}" == "usage: socks4d [-c file] [-u file] "* ]] ||
			die "$opt: ${lines[0]}"
		[[ "$output" == *"-t checks the firewall and the users file"* ]]
		[ -z "$stderr" ] || die "$opt: stderr: $stderr"
	done
	# through a pipe, as socks4d -h | less reads it
	run -0 bash -c "'$SOCKS4D' -h 2>/dev/null | head -1"
	[[ "$output" == "usage: socks4d "* ]]
	# the synopsis names -h
	run -0 "$SOCKS4D" -h
	[[ "$output" == *"socks4d -h | -V"* ]]
}

# table: the arguments | the one line on stderr (exit 2)
@test "a bad option or value: one line, one form, exit 2" {
	local row args want see="; see socks4d -h"
	while IFS='|' read -r args want; do
		[ -n "$args" ] || continue
		read -ra argv <<<"$args"
		run -2 --separate-stderr "$SOCKS4D" -c /dev/null "${argv[@]}"
		[ "${#stderr_lines[@]}" = 1 ] ||
			die "$args: ${#stderr_lines[@]} lines: $stderr"
		[ "$stderr" = "socks4d: ${want# }$see" ] ||
			die "$args: $stderr"
		[ -z "$output" ] || die "$args: stdout: $output"
	done <<'ROWS'
-T 0       | -T: '0' is out of range 1..86400
-T soon    | -T: 'soon' is not a number in 1..86400
-C 86401   | -C: '86401' is out of range 1..86400
-B -1      | -B: '-1' is not a number in 1..86400
-I 999999  | -I: '999999' is out of range 0..86400
-K 32768   | -K: '32768' is out of range 0..32767
-A 10.0.0  | -A: '10.0.0' is not a numeric IPv4 or IPv6 address
-A ::ffff:1.2.3.4 -A 1.2.3.5 | -A: '1.2.3.5' is a second IPv4 address (one -A a family)
-A ::1 -A 1.2.3.4 -A ::2 | -A: '::2' is a second IPv6 address (one -A a family)
-U 40000   | -U: '40000' is not LOW-HIGH (40000-40009)
-U 0-9     | -U: '0-9' is out of range: 1..65535, LOW no more than HIGH
-U 9-5     | -U: '9-5' is out of range: 1..65535, LOW no more than HIGH
-U 1-65536 | -U: '1-65536' is out of range: 1..65535, LOW no more than HIGH
-m 0       | -m: '0' is out of range 1..65536
-s x       | -s: 'x' is not a number in 1..65536
-S 129     | -S: '129' is out of range 1..128
-g 86401   | -g: '86401' is out of range 0..86400
-f 0/60/60 | -f: '0/60/60' is out of range: COUNT 1..100, SECS and BAN 1..86400
-f 10/60   | -f: '10/60' is not COUNT/SECS/BAN (10/60/60), or 0 for no penalties
-l nowhere | -l: 'nowhere' is not [ADDR:]PORT (127.0.0.1:1080, [::1]:1080, 1080)
-P 10.0.0.0/33 | -P: '10.0.0.0/33' is not ADDR/BITS with BITS in 0..32
-T         | -T: needs a value
-q         | -q: no such option
ROWS
}

@test "an unknown long option, or an argument without -t: one line, exit 2" {
	run -2 --separate-stderr "$SOCKS4D" --version
	[ "$stderr" = "socks4d: --version: no such option (the one long option\
 is --help); see socks4d -h" ]
	run -2 --separate-stderr "$SOCKS4D" -c /dev/null extra
	[ "$stderr" = "socks4d: 'extra' is not an option (only -t takes\
 arguments after its options); see socks4d -h" ]
}

@test "from a terminal (stdin not a socket): the usage on stderr, exit 2" {
	run -2 --separate-stderr "$SOCKS4D" -c /dev/null </dev/null
	[[ "${stderr_lines[0]}" == "usage: socks4d "* ]]
	[ -z "$output" ]
}
