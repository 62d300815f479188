#!/usr/bin/env bats
# A short libFuzzer run of each parser under ASan+UBSan (make fuzz runs
# them longer). A crash, a sanitizer report or a broken invariant fails it.
# SPDX-License-Identifier: ISC
load test_helper

# the request, socks.conf, SOCKS5 and users-file parsers
@test "fuzz: the parsers survive ${FUZZ_SECONDS:-15} s each" {
	run make -C "$TOP" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"fuzz/fuzz_request: stat::number_of_executed_units"* ]]
	[[ "$output" == *"fuzz/fuzz_conf: stat::number_of_executed_units"* ]]
	[[ "$output" == *"fuzz/fuzz_socks5: stat::number_of_executed_units"* ]]
	[[ "$output" == *"fuzz/fuzz_users: stat::number_of_executed_units"* ]]
}
