#!/usr/bin/env bats
# Good requests in the shapes a network may deliver them: one byte a write,
# split inside USERID or inside a SOCKS4a hostname, with data right behind.
# Each is granted and relayed as if it had come in one write.  Malformed and
# hostile requests (every VN and CD, truncation, the USERID and hostname
# limits, 0.0.0.0 and port 0, deadlines) are hostile.bats' tables; the
# columns are the same (see hostile_probe.py).  Deadline here: -T 6, far
# from the second or so that the slowest request here takes.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=60
load test_helper

setup_file() {
	printf 'permit c 127.0.0.0/8\n' >"$BATS_FILE_TMPDIR/socks.conf"
	start_peer ECHO echo 127.0.0.2
	start_socks4d "$BATS_FILE_TMPDIR/socks.conf" -T 6 -C 3
}

teardown_file() {
	stop_socks4d
	kill_pids "$ECHO_PID"
}

teardown() {
	no_children 10
	no_sanitizer_reports "$SOCKS_LOG"
	no_crash "$SOCKS_LOG"
	served_ok
}

# relayed, counted
@test "a request one byte a write (30 ms apart), SOCKS4 and SOCKS4a: 90" {
	probe <<-'EOF'
	SOCKS4
	    | t:0.03:0401+$EP+7f000002+'slow'+00+'one-byte-at-a-time'+0a shut
	    | 005a+$EP+7f000002+'one-byte-at-a-time'+0a | eof | 0
	    | end: 19 bytes to client, 19 from client, | 0-10000
	SOCKS4a
	    | t:0.03:0401+$EP+00000001+'slow'+00+'127.0.0.2'+00+'4a'+0a shut
	    | 005a+$EP+00000001+'4a'+0a | eof | 0
	| ~end: 3 bytes to client, 3 from client,(.|\n)*<D_NAME> :127\.0\.0\.2\n
	    | 0-10000
	EOF
}

# inside USERID or inside the SOCKS4a hostname: 90, relayed
@test "a request split in two writes" {
	# the first write of the second row: the hostname up to "127.0"
	local first="x:0401+\$EP+00000001+'u'+00+'127.0'"
	local ended='~end: 10 bytes to client, 10 from client,(.|\n)*'
	probe <<-EOF
	inside USERID
	    | x:0401+\$EP+7f000002+'us' wait:0.3 x:'er'+00+'two-writes' shut
	    | 005a+\$EP+7f000002+'two-writes' | eof | 0
	    | $ended<Content> :two-writes\$ | 0-5000
	inside the hostname
	    | $first wait:0.3 x:'.0.2'+00+'two-writes' shut
	    | 005a+\$EP+00000001+'two-writes' | eof | 0
	    | $ended<D_NAME> :127\.0\.0\.2\n | 0-5000
	EOF
}
