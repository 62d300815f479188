#!/usr/bin/env bats
# Active-mode FTP through socks4d with real programs: the FTP server is
# pyftpdlib on 127.0.0.2, the client is tnftp (`ftp -A`) under Dante's client
# library (socksify), whose data connections are SOCKS4 BINDs to socks4d.
#
# Dante adds direct routes for the networks of the local interfaces (here
# 127.0.0.0/8), so by default only the data connections use the proxy.
# SOCKS_AUTOADD_LANROUTES=no sends the control connection through socks4d
# too (CONNECT); Dante then names the server in its BIND requests.
# SPDX-License-Identifier: ISC

load test_helper
bats_require_minimum_version 1.5.0
# The 1100 MiB test moves 2.2 GB through socks4d and hashes 3.3 GB.
export BATS_TEST_TIMEOUT=300

BIG_MIB=1100

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	export SRV=$BATS_FILE_TMPDIR/srv CLI=$BATS_FILE_TMPDIR/cli
	mkdir -p "$SRV" "$CLI"

	# socks.conf is read per client: tests point this link at their own.
	export CONF=$BATS_FILE_TMPDIR/socks.conf
	printf '%s\n' 'permit c 127.0.0.2' 'permit b 127.0.0.2' \
		>"$BATS_FILE_TMPDIR/permit.conf"
	ln -sfn "$BATS_FILE_TMPDIR/permit.conf" "$CONF"
	SOCKS_LOG=$BATS_FILE_TMPDIR/socks4d.log
	start_socks4d "$CONF"
	export SOCKS_PORT SOCKS_PID SOCKS_LOG

	export FTP_PORT FTP_PID FTP_LOG=$BATS_FILE_TMPDIR/ftpd.log
	FTP_PORT=$(free_port)
	# -D logs every command, PORT included.
	"$PYTHON" -m pyftpdlib -i 127.0.0.2 -p "$FTP_PORT" -w -d "$SRV" \
		-u tester -P secret -D >>"$FTP_LOG" 2>&1 3>&- &
	FTP_PID=$!
	wait_for_port 127.0.0.2 "$FTP_PORT"

	export DANTE_CONF=$BATS_FILE_TMPDIR/dante.conf
	cat >"$DANTE_CONF" <<-EOF
	route {
		from: 0.0.0.0/0 to: 0.0.0.0/0 via: 127.0.0.1 port = $SOCKS_PORT
		proxyprotocol: socks_v4
		command: connect bind
	}
	EOF
}

teardown_file() {
	[ -n "${FTP_PID:-}" ] && kill "$FTP_PID" 2>/dev/null &&
		wait "$FTP_PID" 2>/dev/null
	stop_socks4d
	rm -rf "$SRV" "$CLI"
}

teardown() {
	# Shown only when the test fails.
	tail -n 40 "$SOCKS_LOG"
	grep -v '\[debug\]' "$FTP_LOG" | tail -n 20
	return 0
}

# ftp_session [ENV=VALUE...] -- COMMAND...: tnftp under socksify, in active
# mode, the FTP commands one a line on its stdin.
ftp_session() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	run env HOME="$BATS_TEST_TMPDIR" SOCKS_CONF="$DANTE_CONF" "${envs[@]}" \
		timeout 240 socksify ftp -A -n -v 127.0.0.2 "$FTP_PORT" \
		< <(printf '%s\n' 'user tester secret' binary "$@" quit)
	echo "$output"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# ${BIG_MIB} MiB up and down, byte-identical
@test "FTP active mode (PORT) through socks4d, CONNECT and BIND" {
	local size=$((BIG_MIB << 20)) want t0 t1 t2 soff foff
	# Hashed as it is written: one pass less over 1100 MiB.
	want=$(head -c "${BIG_MIB}M" /dev/urandom | tee "$CLI/big.bin" |
		sha256sum | cut -d' ' -f1)
	[ "$(stat -c %s "$CLI/big.bin")" -eq "$size" ]
	soff=$(log_size "$SOCKS_LOG") foff=$(log_size "$FTP_LOG")

	t0=$(date +%s%N)
	ftp_session SOCKS_AUTOADD_LANROUTES=no -- 'epsv4 off' \
		"put $CLI/big.bin big.bin"
	t1=$(date +%s%N)
	[ "$status" -eq 0 ]
	[[ $output == *"226 Transfer complete."* && $output != *"Can't"* ]]
	echo "# upload:   $(grep -o '[0-9]* bytes sent in .*' <<<"$output")," \
		"session $(( (t1 - t0) / 1000000 )) ms" >&3

	ftp_session SOCKS_AUTOADD_LANROUTES=no -- 'epsv4 off' \
		"get big.bin $CLI/down.bin"
	t2=$(date +%s%N)
	[ "$status" -eq 0 ]
	[[ $output == *"226 Transfer complete."* && $output != *"Can't"* ]]
	echo "# download: $(grep -o '[0-9]* bytes received in .*' \
		<<<"$output"), session $(( (t2 - t1) / 1000000 )) ms" >&3

	[ "$(stat -c %s "$SRV/big.bin")" -eq "$size" ]
	[ "$(stat -c %s "$CLI/down.bin")" -eq "$size" ]
	[ "$(sha "$SRV/big.bin")" = "$want" ]
	[ "$(sha "$CLI/down.bin")" = "$want" ]

	# The server was told socks4d's address (PORT 127,0,0,1,...), and
	# connected there: each PORT names a BIND port socks4d listened on.
	local slog flog bind ports p closed='.*, both sides closed'
	slog=$(log_since "$SOCKS_LOG" "$soff")
	flog=$(log_since "$FTP_LOG" "$foff")
	[ "$(recs <<<"$slog" | grep -F '|<Command> :CONNECT|' |
		grep -c "<D_IP> :127.0.0.2|<D_PORT> :$FTP_PORT|")" -eq 2 ]
	bind=$(recs <<<"$slog" | grep -F '|<Command> :BIND|')
	echo "$bind"
	local accepted="<D_IP> :127.0.0.2|<D_PORT> :$FTP_PORT|.*<Reply> :Accept"
	accepted+="|<B_PORT> :[0-9]*|<Peer> :127.0.0.2:"
	[ "$(grep -c "$accepted" <<<"$bind")" -eq 2 ]
	ports=$(sed -n 's/.*<- PORT 127,0,0,1,\([0-9]*\),\([0-9]*\)$/\1 \2/p' \
		<<<"$flog")
	[ "$(wc -l <<<"$ports")" -eq 2 ]
	while read -r hi lo; do
		p=$((hi * 256 + lo))
		grep -q "<B_PORT> :$p|" <<<"$bind" ||
			die "PORT $p is no BIND port of socks4d"
	done <<<"$ports"
	grep -q "end: 0 bytes to client, $size from client, $closed" <<<"$slog"
	grep -q "end: $size bytes to client, 0 from client, $closed" <<<"$slog"
	grep -q "STOR $SRV/big.bin completed=1 bytes=$size " <<<"$flog"
	grep -q "RETR $SRV/big.bin completed=1 bytes=$size " <<<"$flog"
	rm -f "$CLI/big.bin" "$CLI/down.bin" "$SRV/big.bin"
}

# checked against the server connecting
@test "FTP with Dante's defaults: unnamed BIND (DSTIP 0.0.0.0)" {
	local soff foff
	head -c 8M /dev/urandom >"$CLI/small.bin"
	soff=$(log_size "$SOCKS_LOG") foff=$(log_size "$FTP_LOG")
	ftp_session -- 'epsv4 off' "put $CLI/small.bin small.bin" \
		"get small.bin $CLI/small.down"
	[ "$status" -eq 0 ]
	[ "$(grep -c '226 Transfer complete.' <<<"$output")" -eq 2 ]
	[ "$(sha "$SRV/small.bin")" = "$(sha "$CLI/small.bin")" ]
	[ "$(sha "$CLI/small.down")" = "$(sha "$CLI/small.bin")" ]
	local slog accepted='<D_IP> :0.0.0.0|<D_PORT> :0|.*<Reply> :Accept'
	accepted+='|<B_PORT> :[0-9]*|<Peer> :127.0.0.2:'
	slog=$(log_since "$SOCKS_LOG" "$soff")
	[ "$(recs <<<"$slog" | grep -F '|<Command> :BIND|' |
		grep -c "$accepted")" -eq 2 ]
	[ "$(log_since "$FTP_LOG" "$foff" | grep -c '<- PORT 127,0,0,1,')" \
		-eq 2 ]
}

# nothing transferred
@test "FTP: without a 'permit b' rule the data connection is refused" {
	printf '%s\n' 'permit c 127.0.0.2' >"$BATS_TEST_TMPDIR/socks.conf"
	ln -sfn "$BATS_TEST_TMPDIR/socks.conf" "$CONF"
	local soff
	head -c 1M /dev/urandom >"$CLI/nob.bin"
	soff=$(log_size "$SOCKS_LOG")
	ftp_session SOCKS_AUTOADD_LANROUTES=no -- 'epsv4 off' \
		"put $CLI/nob.bin nob.bin"
	ln -sfn "$BATS_FILE_TMPDIR/permit.conf" "$CONF"
	[[ $output != *"226 Transfer complete."* ]]
	[ ! -e "$SRV/nob.bin" ]
	local bind
	bind=$(log_since "$SOCKS_LOG" "$soff" | recs |
		grep -F '|<Command> :BIND|')
	echo "$bind"
	grep -q '<D_IP> :127.0.0.2|.*<Reply> :Reject|' <<<"$bind"
	! grep -q '<B_PORT>' <<<"$bind" || die "matched, and should not have"
}
