# Helpers for the SOCKS5 suites (socks5.bats, hostile5.bats), on top of
# robust_helper.bash.

load robust_helper

# speaks_socks5: does this file's socks4d answer a SOCKS5 greeting offering
# "no authentication" with 05 00?  Until SOCKS5 is integrated it closes
# without a reply, and the suites skip.
speaks_socks5() {
	"$PYTHON" - "$SOCKS_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"\x05\x01\x00")
try:
    got = s.recv(2)
except OSError:
    got = b""
sys.exit(0 if got == b"\x05\x00" else 1)
PY
}

# skip_unless_socks5: in setup(), skip while socks4d does not speak SOCKS5
# (bats 1.8 cannot skip from setup_file); setup_file sets SOCKS5_MISSING.
skip_unless_socks5() {
	[ -z "${SOCKS5_MISSING:-}" ] || skip "SOCKS5 not integrated"
}

# users_file FILE NAME PASSWORD...: a users file with these logins.
users_file() {
	local file=$1 name password
	shift
	: > "$file"
	while [ $# -ge 2 ]; do
		name=$1 password=$2
		shift 2
		printf '%s:%s\n' "$name" "$(openssl passwd -6 "$password")" >> "$file"
	done
}

# hexstr TEXT: TEXT's bytes as hex digits.
hexstr() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
