# Helpers for hostile.bats, faults.bats, load.bats and defaults.bats, on top
# of test_helper.bash: a table-driven raw client (hostile_probe.py), and
# counting this file's socks4d processes.

load test_helper
bats_require_minimum_version 1.5.0

# hex4 N: a port as the 4 hex digits of its 2 bytes on the wire.
hex4() { printf '%04x' "$1"; }

# probe [--jobs N]: run the hostile_probe.py table on stdin against this
# file's socks4d; vars EP (echo port) and TP (trap port) are set. Prints one
# line a case; fails if any case fails.
probe() {
	local table=$BATS_TEST_TMPDIR/table.$((++PROBE_N))
	cat > "$table"
	"$PYTHON" "$BATS_TEST_DIRNAME/hostile_probe.py" --port "$SOCKS_PORT" --log "$SOCKS_LOG" \
		--var "EP=$(hex4 "${ECHO_PORT:-0}")" --var "TP=$(hex4 "${TRAP_PORT:-0}")" "$@" "$table"
}

# children: how many processes this file's super-server has running now.
children() { pgrep -P "$SOCKS_PID" | wc -l; }

# no_children [SECS]: until the super-server has no child left.
no_children() {
	local tries=$(( ${1:-10} * 20 ))
	while (( tries-- > 0 )); do
		[ "$(children)" = 0 ] && return 0
		sleep 0.05
	done
	die "socks4d processes left behind: $(pgrep -a -P "$SOCKS_PID" | head -5)"
}

# served_ok: the next client is served normally: a CONNECT to the echo
# server is granted and its bytes come back.
served_ok() {
	probe <<-'EOF'
	next client | x:0401+$EP+7f000002+'next'+00+'still-here' shut | 005a+$EP+7f000002+'still-here' | eof | 0 | both sides closed | 0-5000
	EOF
}


# no_crash LOG: every socks4d the super-server reaped exited with 0 or 1;
# anything else (6 SIGABRT, 11 SIGSEGV, 111, ...) is reported.
no_crash() {
	local bad
	bad=$(grep -E '^Child [0-9]+ died with code' "$1" | grep -vE 'died with code [01]$' || true)
	[ -z "$bad" ] || die "socks4d died badly: $bad"
}
