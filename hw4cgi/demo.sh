#!/bin/bash
# make demo: hw4.cgi with everything it talks to, on loopback only.
#   lighttpd (mod_cgi) serving hw4cgi/ on 127.0.0.1
#   socks4d (../socks4d) under systemd-socket-activate, permitting 127.0.0.0/8
#   five stand-in shells (../test/rshell.py) on 127.0.0.2 .. 127.0.0.6,
#   paced (LINE_PAUSE seconds after each line, default 0.15) so that the
#   panes are seen filling in
# hw4.cgi may reach socks4d and the shells' port, nothing else (HW4_ALLOW):
# rows 1-3 go through socks4d, rows 4-5 directly.  Prints the form filled in
# with the demo's values, and a URL that runs all five rows at once; the
# logs stay in the directory it names until you remove it.  Ctrl-C (or
# SIGTERM) stops all of it, with status 0.
# Ports are free ones unless WEB_PORT, SOCKS_PORT or SHELL_PORT are set
# (README names them too).
# SPDX-License-Identifier: ISC
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
python=/usr/bin/python3	# Debian's, whatever python3 is first on PATH
pids=()

die() {
	echo "demo: $*" >&2
	exit 1
}

free_port() {
	"$python" -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
	local tries=100
	until "$python" -c 'import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' \
		"$1" "$2" 2>/dev/null; do
		(( --tries > 0 )) || die "nothing listens on $1:$2"
		sleep 0.05
	done
}

# stop STATUS: every server down, then exit STATUS; the logs stay, to be
# read afterwards.
stop() {
	trap - INT TERM EXIT
	[ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	echo "demo: stopped; the logs are in $tmp (rm -r $tmp when done)"
	exit "$1"
}

for f in "$top/socks4d" "$here/hw4.cgi"; do
	[ -x "$f" ] || die "$f is missing: run make first"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hw4demo.XXXXXX")
# Ctrl-C and SIGTERM are how a demo ends: status 0.  Anything else that
# ends it (a server that did not start) keeps its status.
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

web_port=${WEB_PORT:-$(free_port)}
socks_port=${SOCKS_PORT:-$(free_port)}
shell_port=${SHELL_PORT:-$(free_port)}
allow="127.0.0.1:$socks_port 127.0.0.0/29:$shell_port"

printf '# the demo: CONNECT to loopback only\npermit c 127.0.0.0/8\n' \
	>"$tmp/socks.conf"
systemd-socket-activate -a --inetd -l "127.0.0.1:$socks_port" \
	"$top/socks4d" -c "$tmp/socks.conf" 2>>"$tmp/socks4d.log" &
pids+=($!)

for i in 1 2 3 4 5; do
	systemd-socket-activate -a --inetd -l "127.0.0.$((i + 1)):$shell_port" \
		"$python" "$top/test/rshell.py" --name "s$i" \
		--line-pause "${LINE_PAUSE:-0.15}" 2>>"$tmp/shells.log" &
	pids+=($!)
done

sed -e "s|@PORT@|$web_port|" -e "s|@DOCROOT@|$here|" \
    -e "s|@ERRORLOG@|$tmp/lighttpd.log|" -e "s|@TESTDIR@|$here/test_case|" \
    -e "s|@TIMEOUT@|30|" -e "s|@ALLOW@|$allow|" \
    "$here/lighttpd.conf.in" >"$tmp/lighttpd.conf"
lighttpd -D -f "$tmp/lighttpd.conf" &
pids+=($!)

wait_for_port 127.0.0.1 "$socks_port"
for i in 2 3 4 5 6; do wait_for_port "127.0.0.$i" "$shell_port"; done
wait_for_port 127.0.0.1 "$web_port"

q=
for i in 1 2 3 4 5; do
	q+="${q:+&}h$i=127.0.0.$((i + 1))&p$i=$shell_port&f$i=t$i.txt"
	(( i > 3 )) || q+="&sh$i=127.0.0.1&sp$i=$socks_port"
done
cat <<EOF
hw4.cgi demo, all on loopback:
  shells:  127.0.0.2 .. 127.0.0.6, port $shell_port
           (test files t1.txt .. t5.txt)
  socks4d: 127.0.0.1 port $socks_port
  HW4_ALLOW="$allow": socks4d and the shells, nothing else
  logs:    $tmp (kept after the demo)
The form, filled in with these values:

  http://127.0.0.1:$web_port/hw4.cgi?form&$q

All five sessions at once (rows 1-3 through SOCKS, 4-5 direct):

  http://127.0.0.1:$web_port/hw4.cgi?$q

Ctrl-C stops everything.
EOF
wait
