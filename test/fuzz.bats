#!/usr/bin/env bats
# A short libFuzzer run of each parser under ASan+UBSan (make fuzz runs
# them longer), one test each: a busy machine builds and runs one well
# within a test's deadline.  A crash, a sanitizer report or a broken
# invariant fails it.
# SPDX-License-Identifier: ISC
load test_helper

# fuzz_one NAME: fuzz/fuzz_NAME built and run FUZZ_SECONDS (15), and it
# says how many inputs it ran.
fuzz_one() {
	run make -C "$TOP" fuzz FUZZERS="fuzz/fuzz_$1" \
		FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
	echo "$output"
	[ "$status" -eq 0 ] || die "fuzz_$1 failed"
	local runs
	runs=$(sed -n "s|^fuzz/fuzz_$1: stat::number_of_executed_units: *||p" \
		<<<"$output")
	(( ${runs:-0} > 0 )) || die "fuzz_$1 ran nothing"
}

@test "fuzz: the SOCKS4 request parser" { fuzz_one request; }
@test "fuzz: the socks.conf parser and its decisions" { fuzz_one conf; }
@test "fuzz: the SOCKS5 parsers" { fuzz_one socks5; }
@test "fuzz: the users file parser" { fuzz_one users; }
@test "fuzz: hw4.cgi's escaper" { fuzz_one escape; }
@test "fuzz: the PROXY header parser" { fuzz_one proxy; }
@test "fuzz: the HTTP CONNECT parser" { fuzz_one http; }
