#!/usr/bin/env bats
# BIND (CD 2) at the protocol level: bind_client.py is the SOCKS4 client and
# the peer that connects back; it checks both 8-byte replies byte by byte and
# the data both ways by sha256 (see its --help for the modes).
# SPDX-License-Identifier: ISC

load test_helper
bats_require_minimum_version 1.5.0
export BATS_TEST_TIMEOUT=60

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	# socks4d reads socks.conf per client: each test points this link at
	# its own file in $BATS_TEST_TMPDIR.
	export CONF=$BATS_FILE_TMPDIR/socks.conf
	ln -sfn /dev/null "$CONF"
	# A second one with a short BIND deadline.
	SOCKS_LOG=$BATS_FILE_TMPDIR/socks4d-B2.log
	start_socks4d "$CONF" -B 2
	export SHORT_PORT=$SOCKS_PORT SHORT_PID=$SOCKS_PID SHORT_LOG=$SOCKS_LOG
	SOCKS_LOG=$BATS_FILE_TMPDIR/socks4d.log
	start_socks4d "$CONF"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG
}

teardown_file() {
	SOCKS_PID=$SHORT_PID stop_socks4d
	stop_socks4d
}

teardown() {
	# Shown only when the test fails: what socks4d logged last.
	tail -n 30 "$SOCKS_LOG" "$SHORT_LOG" 2>/dev/null
	SOCKS_PID=${HOSTS_PID:-} stop_socks4d
	return 0
}

# bind_client ARGS...: the helper against the main socks4d; sets CPORT (the
# client's port), BPORT (the BIND port), PPORT (the peer's port) from its
# output.
bind_client() {
	local proxy=127.0.0.1:$SOCKS_PORT
	if [ "$1" = --short ]; then proxy=127.0.0.1:$SHORT_PORT; shift; fi
	run "$PYTHON" "$BATS_TEST_DIRNAME/bind_client.py" --proxy "$proxy" "$@"
	echo "$output"
	CPORT=$(sed -n 's/^client_port //p' <<<"$output")
	BPORT=$(sed -n 's/^bound .*://p' <<<"$output")
	PPORT=$(sed -n 's/^peer .*://p' <<<"$output")
	[ "$status" -eq 0 ] || die "bind_client.py $*: exit $status"
}

# also checks the record
@test "BIND: both replies byte by byte, 4 MiB each way byte-identical" {
	conf 'permit c 127.0.0.0/8' 'permit b *.*.*.*'
	bind_client --peer-from 127.0.0.2 --bytes $((4 << 20))
	[[ $output == *"first 00 5a $(printf '%02x %02x' $((BPORT >> 8)) \
		$((BPORT & 255))) 7f 00 00 01"* ]]
	[[ $output == *"second 00 5a $(printf '%02x %02x' $((PPORT >> 8)) \
		$((PPORT & 255))) 7f 00 00 02"* ]]
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Command> :BIND"
	has "$rec" "<Reply> :Accept"
	has "$rec" "<D_IP> :0.0.0.0"
	has "$rec" "<D_PORT> :0"
	has "$rec" "<B_PORT> :$BPORT"
	has "$rec" "<Peer> :127.0.0.2:$PPORT"
}

# that peer is granted
@test "BIND naming its peer (DSTIP 127.0.0.1, DSTPORT 2121)" {
	conf 'permit b 127.0.0.1'
	bind_client --dst 127.0.0.1 --dport 2121 --peer-from 127.0.0.1
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Command> :BIND"
	has "$rec" "<D_IP> :127.0.0.1"
	has "$rec" "<D_PORT> :2121"
	has "$rec" "<B_PORT> :$BPORT"
	has "$rec" "<Peer> :127.0.0.1:$PPORT"
}

# (the peer from 127.0.0.2, DSTIP 127.0.0.1)
@test "BIND: a peer from the wrong address gets 91, port released" {
	conf 'permit b *.*.*.*'
	bind_client --dst 127.0.0.1 --peer-from 127.0.0.2 --mode wrong-peer
	[[ $output == *"second 00 5b "* ]]
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Command> :BIND"
	has "$rec" "<Reply> :Reject"
	has "$rec" "<B_PORT> :$BPORT"
	has "$rec" "<Peer> :127.0.0.2:$PPORT"
}

@test "BIND SOCKS4a: the named peer (localhost) is resolved and enforced" {
	conf 'permit b 127.0.0.1'
	bind_client --host localhost --peer-from 127.0.0.1
	bind_client --host localhost --peer-from 127.0.0.2 --mode wrong-peer
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Reply> :Reject"
	has "$rec" "<D_NAME> :localhost"
}

# from either permitted address
@test "BIND SOCKS4a: a name with two addresses admits a peer from either" {
	# This socks4d sees an /etc/hosts of its own (a mount namespace per
	# client) in which ftp.test has two addresses.
	printf '127.0.0.2 ftp.test\n127.0.0.3 ftp.test\n' \
		>"$BATS_TEST_TMPDIR/hosts"
	cat >"$BATS_TEST_TMPDIR/socks4d" <<-EOF
	#!/bin/sh
	exec unshare -m sh -ec 'mount --bind "\$0" /etc/hosts; exec "\$@"' \\
		"$BATS_TEST_TMPDIR/hosts" "$SOCKS4D" "\$@"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/socks4d"
	SOCKS4D=$BATS_TEST_TMPDIR/socks4d \
		SOCKS_LOG=$BATS_TEST_TMPDIR/socks4d.log start_socks4d "$CONF"
	HOSTS_PID=$SOCKS_PID
	conf 'permit b 127.0.0.0/8'
	bind_client --host ftp.test --peer-from 127.0.0.3
	has "$(record_of "$CPORT" "$SOCKS_LOG")" "<Peer> :127.0.0.3:$PPORT"
	bind_client --host ftp.test --peer-from 127.0.0.4 --mode wrong-peer
	# The first address is not permitted: only the second one may connect.
	conf 'permit b 127.0.0.3'
	bind_client --host ftp.test --peer-from 127.0.0.3
	bind_client --host ftp.test --peer-from 127.0.0.2 --mode wrong-peer
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Reply> :Reject"
	has "$rec" "<Reason> :BIND peer 127.0.0.2 is not the expected 127.0.0.3"
}

@test "BIND unnamed (DSTIP 0.0.0.0): b rules checked against the peer" {
	conf 'permit c 127.0.0.0/8' 'permit b 127.0.0.3'
	bind_client --peer-from 127.0.0.2 --mode wrong-peer
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Reply> :Reject"
	has "$rec" "<Peer> :127.0.0.2:$PPORT"
	bind_client --peer-from 127.0.0.3
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Reply> :Accept"
	has "$rec" "<Peer> :127.0.0.3:$PPORT"
}

# (91), and nothing listens
@test "firewall: with 'permit c' rules only, BIND is rejected" {
	conf 'permit c 127.0.0.0/8' 'permit c 10.0.0.0/8'
	bind_client --dst 127.0.0.1 --mode reject
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Command> :BIND"
	has "$rec" "<Reply> :Reject"
	! grep -q '^<B_PORT>' <<<"$rec" || die "a listener was opened: $rec"
	# Unnamed too: no rule could permit any peer, so nothing listens.
	bind_client --mode reject
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<D_IP> :0.0.0.0"
	! grep -q '^<B_PORT>' <<<"$rec" || die "a listener was opened: $rec"
}

@test "firewall: with 'permit b *.*.*.*' the same BIND is granted" {
	conf 'permit c 127.0.0.0/8' 'permit b *.*.*.*'
	bind_client --dst 127.0.0.1 --peer-from 127.0.0.1
	bind_client --peer-from 127.0.0.2
}

@test "BIND deadline (-B 2): nobody connects, 91 after 2 s, port released" {
	conf 'permit b *.*.*.*'
	bind_client --short --dst 127.0.0.1 --mode deadline --deadline 2
	rec=$(record_of "$CPORT" "$SHORT_LOG")
	has "$rec" "<Command> :BIND"
	has "$rec" "<Reply> :Reject"
	has "$rec" "<B_PORT> :$BPORT"
}

@test "BIND: the client closing during the wait ends it, port released" {
	conf 'permit b *.*.*.*'
	bind_client --mode client-close
	wait_for_log "$SOCKS_LOG" "client left while BIND waited"
}

# releases the port
@test "BIND: a client that sends bytes and then leaves during the wait" {
	conf 'permit b *.*.*.*'
	bind_client --mode early-close
}

@test "BIND: a client leaving during the wait still gets its record" {
	conf 'permit b *.*.*.*'
	bind_client --mode client-close
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	has "$rec" "<Command> :BIND"
	has "$rec" "<Reply> :Reject"
	has "$rec" "<B_PORT> :$BPORT"
}

@test "BIND rejected by the firewall: the record gives the reason" {
	conf 'permit c 127.0.0.0/8'
	bind_client --dst 127.0.0.1 --mode reject
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	grep -qx '<Reason> :no rule in .* permits BIND for this client' \
		<<<"$rec" ||
		die "no reason: $rec"
	conf 'permit c 127.0.0.0/8' 'deny b 127.0.0.1' 'permit b 127.0.0.3'
	bind_client --dst 127.0.0.1 --mode reject
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	grep -qx '<Reason> :.*:2 denies' <<<"$rec" || die "no reason: $rec"
	conf 'permit c 127.0.0.0/8' 'permit b 127.0.0.3'
	bind_client --peer-from 127.0.0.2 --mode wrong-peer
	rec=$(record_of "$CPORT" "$SOCKS_LOG")
	grep -qx '<Reason> :no rule in .* matches' <<<"$rec" ||
		die "no reason: $rec"
}

# they reach it first
@test "BIND: bytes the client sends before the second reply reach the peer" {
	conf 'permit b *.*.*.*'
	bind_client --peer-from 127.0.0.2 --mode early --early 5000 \
		--bytes 100000
	bind_client --peer-from 127.0.0.2 --mode early-pipelined --early 5000 \
		--bytes 100000
}
