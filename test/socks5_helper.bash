# Helpers for the SOCKS5 suites (socks5.bats, hostile5.bats), on top of
# test_helper.bash.

load test_helper

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

# S5_GREETED: Python that bind5 and udp5 run (exec) once they know port: a
# read(s, n) that waits for n bytes (or the end), and c, a connection to
# socks4d on port that has offered "no authentication" and had it chosen.
S5_GREETED=$(cat <<'PY'
def read(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            break
        b += c
    return b

c = socket.create_connection(("127.0.0.1", port), timeout=10)
c.sendall(b"\x05\x01\x00")
assert read(c, 2) == b"\x05\x00"
PY
)
export S5_GREETED

# bind5 PORT EXPECT PEER: a SOCKS5 BIND through socks4d on PORT naming EXPECT
# (0.0.0.0: anyone), then a peer connecting from PEER to the port of the
# first reply. Prints both replies in hex, then what each side received.
bind5() {
	"$PYTHON" - "$@" <<'PY'
import os, socket, sys
port, expect, peer = int(sys.argv[1]), sys.argv[2], sys.argv[3]
exec(os.environ["S5_GREETED"])
c.sendall(b"\x05\x02\x00\x01" + socket.inet_aton(expect) + b"\x00\x00")
first = read(c, 10)
print("first", first.hex())
if len(first) < 10 or first[1] != 0:
    sys.exit(0)
p = socket.socket()
p.bind((peer, 0))
p.settimeout(10)
p.connect(("127.0.0.1", int.from_bytes(first[8:10], "big")))
second = read(c, 10)
print("second", second.hex(), "peer", p.getsockname()[1])
if len(second) == 10 and second[1] == 0:
    p.sendall(b"from-peer")
    c.sendall(b"from-client")
    print("client got", read(c, 9).decode())
    print("peer got", read(p, 11).decode())
else:
    print("after", read(c, 100).hex())
PY
}

# udp5 PORT STEP...: a SOCKS5 UDP ASSOCIATE through socks4d on PORT, then
# each STEP as a datagram to the relay, "HOST:PORT:DATA" (HOST an address or
# a name; a leading "frag:" sets FRAG 1, "stranger:" sends it from
# 127.0.0.5, the client's port on another address). Prints the reply in hex, then
# "got HOST PORT DATA" for each answer, which come within 10 s of the
# datagrams that asked for them; steps whose answer is not awaited are
# marked with a leading "-".
udp5() {
	"$PYTHON" - "$@" <<'PY'
import os, socket, sys
port, steps = int(sys.argv[1]), sys.argv[2:]
exec(os.environ["S5_GREETED"])
c.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
reply = read(c, 10)
print("reply", reply.hex())
if len(reply) < 10 or reply[1] != 0:
    sys.exit(0)
relay = (socket.inet_ntoa(reply[4:8]), int.from_bytes(reply[8:10], "big"))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
u.settimeout(10)
awaited = 0
for step in steps:
    quiet = step.startswith("-")
    step = step.lstrip("-")
    frag = step.startswith("frag:")
    stranger = step.startswith("stranger:")
    host, dport, data = step.split(":", 1)[1].split(":", 2) if frag or stranger else \
        step.split(":", 2)
    try:
        addr = b"\x01" + socket.inet_aton(host)
    except OSError:
        addr = b"\x03" + bytes([len(host)]) + host.encode()
    sock = u
    if stranger:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.5", u.getsockname()[1]))	# the client's port, not its address
    sock.sendto(b"\x00\x00" + bytes([1 if frag else 0]) + addr + int(dport).to_bytes(2, "big") +
                data.encode(), relay)
    if quiet:
        continue
    d = u.recv(65535)
    assert d[:4] == b"\x00\x00\x00\x01", d
    print("got", socket.inet_ntoa(d[4:8]), int.from_bytes(d[8:10], "big"), d[10:].decode())
c.close()
print("relay", relay[1])
PY
}
