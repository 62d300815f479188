#!/usr/bin/env bash
# bench/bench.sh - `make bench`: socks4d against a direct connection, a
# minimal static handler (the exec floor, and behind its own accept-and-fork
# loop the fork floor), Debian's danted and, for what relaying alone costs
# here, HAProxy forwarding TCP with splice; in one run.
#
# Everything listens on 127.0.0.1 on free ports and is stopped at the end.
# Each figure is the median of BENCH_REPS repetitions, configurations
# interleaved within each repetition.  A throughput figure counts only when
# every stream's byte count and checksum were verified by loadtool; a
# session counts only when its 100 bytes came back intact and the server's
# close (it closes first, as an HTTP/1.0 server does) came through.
#
# Each server the script starts runs in a memory cgroup of its own, made
# under the script's own (cgroup v1's memory hierarchy, or v2 where the
# script's cgroup lets it), so that an idle session's memory is counted
# whole: what the cgroup is charged, user and kernel.
#
# Knobs (environment):
#   SOCKS4D=path            socks4d binary (default: ./socks4d)
#   BENCH_REPS=3            repetitions per figure
#   BENCH_ONE=4G            bytes of the one-stream test
#   BENCH_STREAMS=16 BENCH_MULTI=1G   streams and bytes each, aggregate test
#   BENCH_BUDGET=300        seconds the SOCKS4 figures should take: the
#                           aggregate test gets what the others leave, and its
#                           size is scaled down to fit (the table says so);
#                           the SOCKS5 figures add about 2.5 minutes
#   BENCH_MULTI_BUDGET=N    seconds for the aggregate test, overriding that
#   BENCH_CLIENTS=32 BENCH_SECS=10    session-rate clients and seconds
#   BENCH_SLICES=5          the seconds of each repetition, in turns
#   BENCH_IDLE=500          idle sessions held for the memory figures
#   BENCH_STARTUP=200       samples of the start-up latency (connect() to reply)
#   BENCH_FIGURES="one multi rate hrate idle startup s5one s5rate s5auth udp"
#                           which figures to run; hrate is sessions/s of HTTP
#                           CONNECT (socks4d alone), taken in turns with
#                           rate's; the last four are SOCKS5: one stream,
#                           sessions/s without and with a login, UDP
#                           ASSOCIATE datagrams/s and loss
#   BENCH_SOCKS5=0          skip the SOCKS5 figures
#   BENCH_ONE5=2G           bytes of the SOCKS5 one-stream test
#   BENCH_SECS5=3 BENCH_SLICES5=3   SOCKS5 session-rate seconds, in slices
#   BENCH_UDP_SECS=2 BENCH_UDP_SIZE=512 BENCH_UDP_WINDOW=64   UDP test: seconds
#                           each, datagram size, and datagrams unanswered at a
#                           time in the paced test (the other sends flat out)
#   BENCH_VARIANTS="name=path ..."  extra socks4d builds, measured like socks4d
#   BENCH_CONFIGS="socks4d/listener danted ..."  measure only these servers
#                           (default: all), named as in the table's header
#                           (the fork floor: floor/fork); direct, the sink,
#                           always runs
#   FLOOR_CC=cc             compiler of the exec and fork floors (default:
#                           musl-gcc where installed, as make builds socks4d
#                           with it)
# SPDX-License-Identifier: ISC
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
SOCKS4D=$(readlink -f "${SOCKS4D:-$top/socks4d}")
CONF=$(readlink -f "${SOCKS4D_CONF:-$top/socks.conf}")
REPS=${BENCH_REPS:-3}
ONE=${BENCH_ONE:-4G}
STREAMS=${BENCH_STREAMS:-16}
MULTI=${BENCH_MULTI:-1G}
BUDGET=${BENCH_BUDGET:-300}
MULTI_BUDGET=${BENCH_MULTI_BUDGET:-}
CLIENTS=${BENCH_CLIENTS:-32}
SECS=${BENCH_SECS:-10}
SLICES=${BENCH_SLICES:-5}
IDLE=${BENCH_IDLE:-500}
STARTUP=${BENCH_STARTUP:-200}
FIGURES=${BENCH_FIGURES:-one multi rate hrate idle startup s5one s5rate s5auth \
udp}
[ "${BENCH_SOCKS5:-1}" = 0 ] && FIGURES=$(tr ' ' '\n' <<<"$FIGURES" |
    grep -vxE 's5one|s5rate|s5auth|udp' | tr '\n' ' ')
ONE5=${BENCH_ONE5:-2G}
SECS5=${BENCH_SECS5:-3}
SLICES5=${BENCH_SLICES5:-3}
UDP_SECS=${BENCH_UDP_SECS:-2}
UDP_SIZE=${BENCH_UDP_SIZE:-512}
UDP_WINDOW=${BENCH_UDP_WINDOW:-64}
VARIANTS=${BENCH_VARIANTS:-}
ONLY=${BENCH_CONFIGS:-}
CC=${CC:-cc}
# The floor is built with the C library socks4d is built with: a static
# glibc program starts slower than a static musl one, and would flatter it.
FLOOR_CC=${FLOOR_CC:-$(command -v musl-gcc || echo "$CC")}

# The work directory: every file the run writes goes there, and cleanup
# removes it; without one the script stops before writing anything.
W=$(mktemp -d /tmp/socks4d-bench.XXXXXX)
LT=$here/loadtool
FLOOR=$W/floor
PIDS=()
SD_UNIT=socks4d-bench-$$
t_start=$SECONDS

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }
case $W in
/tmp/socks4d-bench.?*) [ -d "$W" ] && [ ! -L "$W" ] ;;
*) false ;;
esac || die "no work directory in /tmp (mktemp failed)"

cleanup() {
	local pid
	exec 7>&- 2>/dev/null
	for pid in "${PIDS[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null ||
		    kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null ||
		    kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	cg_remove
	[ -n "${S5_USER_MADE:-}" ] && userdel "$S5_USER" 2>/dev/null
	if [ -n "${SD:-}" ]; then
		"$top/test/private_systemd.sh" remove "$SD" "$SD_UNIT"
		"$top/test/private_systemd.sh" remove "$SD" "$SD_UNIT-l"
		"$top/test/private_systemd.sh" remove "$SD" "$SD_UNIT-f"
		[ "$SD" = - ] || "$top/test/private_systemd.sh" stop "$SD"
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		say "bench: logs kept in $W"
	else
		rm -rf "$W"
	fi
}

# ---- memory cgroups -------------------------------------------------------
# CG: a cgroup of the script's own, made under the one it runs in, and in it
# one for each server start() starts (cg_make), which its children inherit.
# A cgroup's charge is read from cgroup v1's memory.usage_in_bytes (with
# kernel memory accounted, unless booted with cgroup.memory=nokmem, that
# includes the kernel's share: kernel stacks, page tables and the slab
# objects charged to it, which memory.kmem.usage_in_bytes gives alone;
# checked on 6.18, bench/RESULTS.md) or v2's memory.current (the same, and
# socket buffers).  v2 lets a cgroup give its children the memory
# controller only when it holds no processes: the script's own seldom can,
# so there the whole figure is often not measured (a note says why).
CG= CG_V= CG_WHY=
cg_setup() {
	local own base
	if [ "$(id -u)" != 0 ]; then
		CG_WHY="making cgroups needs root"
		return 1
	fi
	if [ -f /sys/fs/cgroup/memory/memory.usage_in_bytes ]; then
		CG_V=1 own=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
		base=/sys/fs/cgroup/memory${own%/}
		if grep -qw 'cgroup.memory=nokmem' /proc/cmdline; then
			CG_WHY="cgroup v1 without kernel memory (nokmem)"
			return 1
		fi
	elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		CG_V=2 own=$(sed -n 's/^0:://p' /proc/self/cgroup)
		base=/sys/fs/cgroup${own%/}
	else
		CG_WHY="no memory cgroup hierarchy"
		return 1
	fi
	if ! mkdir "$base/socks4d-bench-$$" 2>/dev/null; then
		CG_WHY="cannot make a cgroup under $base"
		return 1
	fi
	CG=$base/socks4d-bench-$$
	if [ "$CG_V" = 2 ] && ! { grep -qw memory "$CG/cgroup.controllers" &&
	    echo +memory >"$CG/cgroup.subtree_control"; } 2>/dev/null; then
		rmdir "$CG"
		CG=
		CG_WHY="cgroup v2: the script's cgroup ($own) does not give"\
" its children the memory controller"
		return 1
	fi
}
# cg_make NAME: the cgroup for server NAME, made; its path
cg_make() {
	[ -n "$CG" ] && mkdir "$CG/${1//\//-}" && echo "$CG/${1//\//-}"
}
# cg_read CONFIG: "charged kernel", bytes, of CONFIG's cgroup
cg_read() {
	local d=${CGOF[$1]:-}
	[ -n "$d" ] || return 1
	if [ "$CG_V" = 1 ]; then
		echo "$(cat "$d/memory.usage_in_bytes")" \
		    "$(cat "$d/memory.kmem.usage_in_bytes" 2>/dev/null)"
	else
		echo "$(cat "$d/memory.current")" "$(awk '
		$1 == "kernel" {k = $2; f = 1}
		$1 ~ /^(kernel_stack|pagetables|percpu|sock|vmalloc|slab)$/ {
			s += $2}
		END {print f ? k : s}' "$d/memory.stat")"
	fi
}
# The servers' cgroups, once their processes are gone; what is still in
# one, the script started: it is stopped first.
cg_remove() {
	local d pid left
	[ -n "$CG" ] && [ -d "$CG" ] || return 0
	for d in "$CG"/*/; do
		[ -f "$d/cgroup.procs" ] || continue
		for _ in $(seq 20); do
			left=$(cat "$d/cgroup.procs")
			[ -n "$left" ] || break
			for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
			sleep 0.1
		done
		rmdir "$d" || say "bench: cgroup $d not removed"
	done
	rmdir "$CG" || say "bench: cgroup $CG not removed"
}
memavail() { awk '$1 == "MemAvailable:" {print $2}' /proc/meminfo; }

trap cleanup EXIT
trap 'exit 130' INT TERM

has() { case " $FIGURES " in *" $1 "*) return 0;; esac; return 1; }

# key=value from one loadtool line
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

median() {
	printf '%s\n' "$@" | grep -E '^-?[0-9.]+$' | sort -g |
	    awk '{a[NR]=$1}
	END {if (NR == 0) print "NA"; else if (NR % 2) print a[(NR+1)/2];
		else printf "%.6g\n", (a[NR/2] + a[NR/2+1]) / 2}'
}

# a / b, or NA
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {
	if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0)
	print "NA"; else printf "%.2f\n", a / b}'; }

# ---- build ------------------------------------------------------------
# socks4d is copied first: a rebuild in the tree during the run must not
# swap the program under the super-servers.
[ -x "$SOCKS4D" ] || die "no socks4d at $SOCKS4D (run make first)"
cp "$SOCKS4D" "$W/socks4d" || die "cannot copy $SOCKS4D"
SOCKS4D_ID="$SOCKS4D ($(ldd "$SOCKS4D" >/dev/null 2>&1 &&
    echo dynamic || echo static), sha256 $(sha256sum "$SOCKS4D" |
    cut -c1-12))"
$CC -O2 -Wall -Wextra -Werror -o "$LT" "$here/loadtool.c" ||
    die "loadtool does not build"
$FLOOR_CC -static -O2 -Wall -Wextra -Werror -o "$FLOOR" "$here/floor.c" ||
    die "floor does not build"
cg_setup
for tool in systemd-socket-activate tcpserver danted haproxy setsid; do
	command -v $tool >/dev/null || die "$tool is missing (make deps)"
done

# ---- servers ----------------------------------------------------------
declare -A PORT SPID KIND
declare -A CGOF		# a server's memory cgroup
declare -A KEEPS	# children a server keeps between sessions
CONFIGS=()
NOTES=()

wait_listen() {		# PORT PID: until 127.0.0.1:PORT is in LISTEN state
	local hex
	hex=$(printf '0100007F:%04X' "$1")
	for _ in $(seq 100); do
		awk -v a="$hex" '$2 == a && $4 == "0A" {f = 1} END {exit !f}' \
		    /proc/net/tcp && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# start NAME KIND CMD...: CMD listens on $port (set before), in its own
# process group so that cleanup reaches its children too, and in a memory
# cgroup of its own where there are (cg_setup).
start() {
	local name=$1 kind=$2 pid log=$W/${1//\//-}.log cg
	shift 2
	wanted "$name" || return 0
	if cg=$(cg_make "$name"); then
		CGOF[$name]=$cg
		set -- sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"
	fi
	setsid "$@" </dev/null >/dev/null 2>>"$log" &
	pid=$!
	PIDS+=("$pid")
	wait_listen "$port" "$pid" || die "$name did not start (see $log)"
	PORT[$name]=$port SPID[$name]=$pid KIND[$name]=$kind
	CONFIGS+=("$name")
}

# wanted NAME: NAME is among BENCH_CONFIGS (or that is empty).  NAME+5 is
# NAME's SOCKS5 twin, NAME+h its HTTP CONNECT twin (each its own instance,
# so that the SOCKS4 figures stay as they were), wanted with NAME; a twin's
# figures are NAME's (${cfg%+[5h]}).
wanted() {
	[ -z "$ONLY" ] ||
	    case " $ONLY " in *" ${1%+[5h]} "*) return 0;; *) return 1;; esac
}

# The two super-servers, listening on $port.
ssa() {
	start "$1" perconn systemd-socket-activate -a --inetd \
	    -l "127.0.0.1:$port" "${@:2}"
}
tcps() {
	start "$1" perconn tcpserver -q -H -R -l 0 -c 1000 -b 1024 \
	    127.0.0.1 "$port" "${@:2}"
}

setsid "$LT" serve -l 127.0.0.1:0 -t 1800 \
    >"$W/sink.out" 2>"$W/sink.log" </dev/null &
SINK_PID=$!
PIDS+=($!)
for _ in $(seq 100); do
	grep -q '^port=' "$W/sink.out" && break
	sleep 0.05
done
SINK=$(sed -n 's/^port=//p' "$W/sink.out")
USINK=$(sed -n 's/^udp_port=//p' "$W/sink.out")	# its UDP echo
[ -n "$SINK" ] || die "sink did not start"
PORT[direct]=$SINK KIND[direct]=direct
CONFIGS+=(direct)

port=$("$LT" freeport); ssa socks4d/ssa "$W/socks4d" -c "$CONF"
port=$("$LT" freeport); tcps socks4d/tcpserver "$W/socks4d" -c "$CONF"
port=$("$LT" freeport)
# Listener mode: socks4d accepts and forks itself.  Limits above the idle
# test's 500 sessions from one address, as tcpserver's -c 1000.
start socks4d/listener listener "$W/socks4d" -c "$CONF" -l "127.0.0.1:$port" \
    -m 2048 -s 2048
port=$("$LT" freeport); ssa floor/ssa "$FLOOR"
port=$("$LT" freeport); tcps floor/tcpserver "$FLOOR"
# The fork floor: the same handler behind its own accept-and-fork loop, the
# least a server of the listener's design can do.
port=$("$LT" freeport); start floor/fork listener "$FLOOR" -l "$port"
VNAMES=()
for v in $VARIANTS; do
	vn=${v%%=*} vp=$(readlink -f "${v#*=}")
	[ -x "$vp" ] || die "variant $vn: no program at $vp"
	cp "$vp" "$W/variant-$vn" && vp=$W/variant-$vn
	port=$("$LT" freeport); ssa "$vn/ssa" "$vp" -c "$CONF"
	port=$("$LT" freeport); tcps "$vn/tcpserver" "$vp" -c "$CONF"
	VNAMES+=("$vn")
done
port=$("$LT" freeport)
sed "s|@PORT@|$port|; s|@LOG@|$W/danted.log|; s|@USER@|nobody|" \
    "$here/danted.conf" >"$W/danted.conf"
start danted danted danted -f "$W/danted.conf" -N 2 -p "$W/danted.pid"
port=$("$LT" freeport)
sed "s|@PORT@|$port|; s|@SINK@|$SINK|" "$here/haproxy.cfg" >"$W/haproxy.cfg"
start haproxy relay haproxy -db -f "$W/haproxy.cfg"

# The SOCKS5 twins, configured alike: a client offering 02 must log in, as
# the same user with the same password (danted checks the system's accounts,
# socks4d its users file: one SHA-512 crypt hash for both); one offering 00
# need not.  Both permit CONNECT and UDP ASSOCIATE to loopback.
S5_USER=socksbench S5_PASS= S5_LOGIN=
if has s5auth && [ "$(id -u)" != 0 ]; then
	NOTES+=("SOCKS5 logins not measured:"\
" danted's user needs root to create")
	FIGURES=${FIGURES/s5auth/}
elif has s5auth; then
	getent passwd "$S5_USER" >/dev/null &&
	    die "user $S5_USER exists: remove it first"
	S5_PASS=$(openssl rand -hex 12) ||
	    die "openssl is missing (it makes the password and its hash)"
	useradd -M -s /usr/sbin/nologin "$S5_USER" ||
	    die "cannot create user $S5_USER"
	S5_USER_MADE=1
	echo "$S5_USER:$(openssl passwd -6 -stdin <<<"$S5_PASS")" \
	    >"$W/socks.passwd"
	chpasswd -e <"$W/socks.passwd" || die "cannot set $S5_USER's password"
fi
: >>"$W/socks.passwd"
{ cat "$CONF"; echo "permit u 127.0.0.0/8"; } >"$W/socks5.conf"
# The listener reads both, by path, as nobody:nogroup after dropping root.
chmod 711 "$W" && chmod 644 "$W/socks5.conf" &&
    chgrp nogroup "$W/socks.passwd" 2>/dev/null &&
    chmod 640 "$W/socks.passwd"
if has s5one || has s5rate || has s5auth || has udp; then
	port=$("$LT" freeport)
	ssa socks4d/ssa+5 "$W/socks4d" -c "$W/socks5.conf" -u "$W/socks.passwd"
	port=$("$LT" freeport)
	start socks4d/listener+5 listener "$W/socks4d" -c "$W/socks5.conf" \
	    -u "$W/socks.passwd" -l "127.0.0.1:$port" -m 2048 -s 2048
	port=$("$LT" freeport)
	sed "s|@PORT@|$port|; s|@LOG@|$W/danted5.log|; s|@USER@|nobody|" \
	    "$here/danted5.conf" >"$W/danted5.conf"
	start danted+5 danted danted -f "$W/danted5.conf" -N 2 \
	    -p "$W/danted5.pid"
fi
# The HTTP CONNECT twins: socks4d as above, whose port takes HTTP CONNECT
# too (a first byte that is a capital letter), under the same rules.
# Neither danted nor HAProxy serves HTTP CONNECT on a SOCKS port.
if has hrate; then
	port=$("$LT" freeport)
	ssa socks4d/ssa+h "$W/socks4d" -c "$CONF"
	port=$("$LT" freeport)
	start socks4d/listener+h listener "$W/socks4d" -c "$CONF" \
	    -l "127.0.0.1:$port" -m 2048 -s 2048
fi

# systemd's own Accept=yes, with the shipped units: this machine's systemd,
# or where PID 1 is not systemd, a private one (test/private_systemd.sh).
# Its figures include what PID 1 and journald spend on each connection.
SD=
if ! wanted socks4d/systemd && ! wanted socks4d/listener-sd &&
    ! wanted socks4d/listener-sd-file; then
	:
elif [ "$(id -u)" != 0 ]; then
	NOTES+=("socks4d/systemd not measured: installing units needs root")
elif [ -d /run/systemd/system ]; then
	SD=-
elif ! SD=$("$top/test/private_systemd.sh" start 2>>"$W/errors"); then
	SD=
	NOTES+=("socks4d/systemd not measured: no private systemd would boot"\
" ($(tail -n 1 "$W/errors"))")
fi
if [ -n "$SD" ] && wanted socks4d/systemd; then
	port=$("$LT" freeport) pid1=$SD
	[ "$SD" = - ] && pid1=1
	"$top/test/private_systemd.sh" units "$SD" "$SD_UNIT" "$port" \
	    "$W/socks4d" "$CONF" &&
	    wait_listen "$port" "$pid1" || die "socks4d/systemd did not start"
	PORT[socks4d/systemd]=$port SPID[socks4d/systemd]=$pid1 \
	    KIND[socks4d/systemd]=systemd
	CONFIGS+=(socks4d/systemd)
fi
# listener_units CONFIG UNIT [DROPIN]: the shipped listener units (Accept=no)
# there as UNIT, with DROPIN for the service: systemd starts one socks4d, on
# the first client, and has nothing to do with the rest.
listener_units() {
	local cfg=$1 unit=$2 pid1=$SD port
	[ "$SD" = - ] && pid1=1
	port=$("$LT" freeport)
	UNIT_DROPIN=${3:-} "$top/test/private_systemd.sh" listener-units \
	    "$SD" "$unit" "$port" "$W/socks4d" "$CONF" -s 1024 &&
	    wait_listen "$port" "$pid1" || die "$cfg did not start"
	"$LT" rate -x "127.0.0.1:$port" -d "127.0.0.1:$SINK" -c 1 -t 1 \
	    >/dev/null 2>&1
	SPID[$cfg]=$(pgrep -P "$pid1" -f "/run/$unit/socks4d") ||
	    die "$cfg: no listener"
	PORT[$cfg]=$port KIND[$cfg]=listener
	CONFIGS+=("$cfg")
}
if [ -n "$SD" ] && wanted socks4d/listener-sd; then
	listener_units socks4d/listener-sd "$SD_UNIT-l"
	KEEPS[socks4d/listener-sd]=1	# its journal forwarder
fi
# The same with examples/socks4d-listener-records-file.conf: records go to a
# file, as the listener's outside, so that the two differ only in what
# systemd puts around socks4d.
if [ -n "$SD" ] && wanted socks4d/listener-sd-file; then
	sed "s|^StandardError=append:.*|StandardError=append:"\
"/run/$SD_UNIT-f/records.log|" \
	    "$top/examples/socks4d-listener-records-file.conf" \
	    >"$W/records-file.conf"
	listener_units socks4d/listener-sd-file "$SD_UNIT-f" \
	    "$W/records-file.conf"
fi

# Throughput, CPU and memory do not depend on the super-server: measured
# under systemd-socket-activate.  Session rate and start-up under both.
BULK=(direct socks4d/ssa danted haproxy)
RATE=(socks4d/ssa floor/ssa socks4d/tcpserver floor/tcpserver danted
    floor/fork socks4d/listener)
# (listener-sd-file right after the listener: the target's pair in adjacent
# slices)
[ -n "$SD" ] &&
    RATE+=(socks4d/listener-sd-file socks4d/listener-sd socks4d/systemd)
for vn in "${VNAMES[@]}"; do
	BULK+=("$vn/ssa")
	RATE+=("$vn/ssa" "$vn/tcpserver")
done
MEM=(socks4d/ssa danted floor/fork socks4d/listener)
for vn in "${VNAMES[@]}"; do MEM+=("$vn/ssa"); done

# Only what was started (BENCH_CONFIGS) is measured.
only_started() {
	local c
	for c in "$@"; do [ -n "${PORT[$c]:-}" ] && echo "$c"; done
}
mapfile -t BULK < <(only_started "${BULK[@]}")
mapfile -t RATE < <(only_started "${RATE[@]}")
mapfile -t MEM < <(only_started "${MEM[@]}")
mapfile -t S5 < <(only_started socks4d/ssa+5 socks4d/listener+5 danted+5)
mapfile -t HT < <(only_started socks4d/ssa+h socks4d/listener+h)
for c in $ONLY; do
	[ -n "${PORT[$c]:-}" ] || NOTES+=("BENCH_CONFIGS: $c not started"\
" (not a configuration, or see the notes above)")
done
if ! has idle; then
	:
elif [ -z "$CG" ]; then
	NOTES+=("idle memory counted whole not measured: $CG_WHY")
elif [ -n "$SD" ]; then
	NOTES+=("idle memory: the configurations under systemd not measured"\
" (their processes are in systemd's cgroups, not the bench's)")
fi

# loadtool's way there: a SOCKS4 CONNECT through a proxy (SOCKS5 through a
# +5 twin, logged in while S5_LOGIN is set; HTTP CONNECT through a +h twin),
# or straight to the sink or to the relay in front of it.
route() {
	case ${KIND[$1]}:$1 in
	direct:*|relay:*) echo "-d 127.0.0.1:${PORT[$1]}" ;;
	*+5) echo "-x 127.0.0.1:${PORT[$1]} -d 127.0.0.1:$SINK" \
	    "${S5_LOGIN:--5}" ;;
	*+h) echo "-x 127.0.0.1:${PORT[$1]} -d 127.0.0.1:$SINK -H" ;;
	*) echo "-x 127.0.0.1:${PORT[$1]} -d 127.0.0.1:$SINK" ;;
	esac
}

# The server's process tree: CPU ticks (reaped children included) and memory.
proc_line() { "$LT" proc "${SPID[$1]}"; }

# Per-connection servers: wait until every child has exited (and so its
# CPU time is in the server's cutime).
quiesce() {
	# PID 1 has other children (the listeners of listener-sd among them)
	if [ "${KIND[$1]}" = systemd ]; then
		for _ in $(seq 200); do
			pgrep -P "${SPID[$1]}" -f "^/run/$SD_UNIT/socks4d " \
			    >/dev/null || return 0
			sleep 0.05
		done
		say "bench: $1 still has sessions after 10 s"
		return 0
	fi
	case ${KIND[$1]} in perconn|listener) ;; *) sleep 0.2; return 0 ;; esac
	for _ in $(seq 200); do
		[ "$(kv "$(proc_line "$1")" children)" \
		    -le "${KEEPS[$1]:-0}" ] && return 0
		sleep 0.05
	done
	say "bench: $1 still has children after 10 s"
}

declare -A VALS FAILS
add() { VALS[$1]="${VALS[$1]:-} $2"; }
fail() { FAILS[$1]=$(( ${FAILS[$1]:-0} + 1 )); }

sink_ticks() { kv "$("$LT" proc "$SINK_PID")" ticks; }

# stream FIGURE CONFIG N BYTES: GB/s; CPU s per GiB of the proxy, and of
# the whole path (client, sink and proxy) for the one-stream figure.
stream() {
	local fig=$1 cfg=$2 n=$3 bytes=$4 before=0 after=0 sink0 line gib
	quiesce "$cfg"
	[ "${KIND[$cfg]}" = direct ] || before=$(kv "$(proc_line "$cfg")" ticks)
	sink0=$(sink_ticks)
	if ! line=$("$LT" stream $(route "$cfg") -n "$n" -b "$bytes" \
	    -t 600 2>>"$W/errors"); then
		say "bench: $fig $cfg: not every byte verified: $line"
		fail "$fig:${cfg%+[5h]}"
		return
	fi
	add "$fig:${cfg%+[5h]}" "$(kv "$line" gbps)"
	quiesce "$cfg"
	[ "${KIND[$cfg]}" = direct ] || after=$(kv "$(proc_line "$cfg")" ticks)
	gib=$(awk -v b="$(kv "$line" bytes_each)" -v n="$n" \
	    'BEGIN {print b * n / 1073741824}')
	[ "${KIND[$cfg]}" = direct ] || add "cpu_$fig:$cfg" "$(awk \
	    -v a="$after" -v b="$before" -v t="$(getconf CLK_TCK)" -v g="$gib" \
	    'BEGIN {printf "%.3f\n", (a - b) / t / g}')"
	[ "$fig" = one ] && add "cpu_path:$cfg" "$(awk \
	    -v p="$((after - before))" \
	    -v s="$(( $(sink_ticks) - sink0 ))" -v c="$(kv "$line" cpu_s)" \
	    -v t="$(getconf CLK_TCK)" \
	    -v g="$gib" 'BEGIN {printf "%.3f\n", ((p + s) / t + c) / g}')"
}

section() { say "bench: $1 ($((SECONDS - t_start)) s so far)"; }

say "bench: socks4d $SOCKS4D_ID," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg), work dir $W"

if has one; then
	section "one stream, $ONE through one CONNECT"
	for r in $(seq "$REPS"); do
		for cfg in "${BULK[@]}"; do stream one "$cfg" 1 "$ONE"; done
	done
fi

if has multi; then
	# Project the time from the one-stream rates; scale down to the budget.
	bytes_multi=$(awk -v s="$MULTI" 'BEGIN {
		v = s + 0; u = substr(s, length(s));
		if (u == "K" || u == "k") v *= 1024;
		if (u == "M" || u == "m") v *= 1048576;
		if (u == "G" || u == "g") v *= 1073741824; printf "%.0f\n", v}')
	if [ -z "$MULTI_BUDGET" ]; then	# what the other figures leave of BUDGET
		MULTI_BUDGET=$(awk -v b="$BUDGET" \
		    -v e="$((SECONDS - t_start))" -v r="$REPS" \
		    -v nr="${#RATE[@]}" \
		    -v nm="${#MEM[@]}" \
		    -v s="$SECS" -v k="$SLICES" -v m="$STARTUP" \
		    -v rate="$(has rate && echo 1 || echo 0)" \
		    -v idle="$(has idle && echo 1 || echo 0)" \
		    -v st="$(has startup && echo 1 || echo 0)" \
		    -v sd="$([ -n "$SD" ] && echo 1 || echo 0)" \
		    'BEGIN {
	left = b - e - rate * nr * (r * (s + 0.25 * k) + 1.5) - idle * nm * 8
	left -= st * nr * r * m * 0.006 + sd * st * r * m / 5 * 0.1
	print (left < 30) ? 30 : int(left)}')
	fi
	proj=0
	for cfg in "${BULK[@]}"; do
		g=$(median ${VALS[one:$cfg]:-})
		[ "$g" = NA ] && g=0.3
		proj=$(awk -v p="$proj" -v g="$g" -v b="$bytes_multi" \
		    -v n="$STREAMS" -v r="$REPS" \
		    'BEGIN {print p + b * n * r / (g * 1e9)}')
	done
	if awk -v p="$proj" -v b="$MULTI_BUDGET" 'BEGIN {exit !(p > b)}'; then
		bytes_multi=$(awk -v p="$proj" -v b="$MULTI_BUDGET" \
		    -v x="$bytes_multi" \
		    'BEGIN {v = x * b / p; v = int(v / 1048576) * 1048576;
			if (v < 67108864) v = 67108864; print v}')
		NOTES+=("16-stream test scaled down to $STREAMS x"\
" $((bytes_multi / 1048576)) MiB to fit ${MULTI_BUDGET} s"\
" (projected ${proj%.*} s at $MULTI each)")
	fi
	section "$STREAMS streams, $((bytes_multi / 1048576)) MiB each"
	for r in $(seq "$REPS"); do
		for cfg in "${BULK[@]}"; do
			stream multi "$cfg" "$STREAMS" "$bytes_multi"
		done
	done
fi

# One slice of the session-rate test: "sessions late failed secs ticks".
rate_slice() {
	local cfg=$1 secs=$2 before after line
	quiesce "$cfg"
	before=$(kv "$(proc_line "$cfg")" ticks)
	line=$("$LT" rate $(route "$cfg") -c "$CLIENTS" -t "$secs" \
	    2>"$W/errors.last")
	cat "$W/errors.last" >>"$W/errors"
	quiesce "$cfg"
	after=$(kv "$(proc_line "$cfg")" ticks)
	echo "$(kv "$line" sessions) $(kv "$line" late) $(kv "$line" failed)" \
	    "$(kv "$line" secs) $((after - before))"
}

# rate_turns FIGURE SLICE SLICES CONFIG...: sessions/s of each CONFIG as
# FIGURE (an HTTP CONNECT twin's as hrate).  Each repetition gives every
# CONFIG SLICES slices of SLICE seconds, taken in turn, so that a change in
# the machine's speed during the run falls on all of them alike rather
# than on whichever ran then.  The SOCKS4 figure (rate) adds the server's
# CPU per session.
rate_turns() {
	local turn_fig=$1 slice=$2 slices=$3 r cfg n l f secs ticks fig
	shift 3
	for r in $(seq "$REPS"); do
		declare -A SUM=()
		for _ in $(seq "$slices"); do
			for cfg; do
				SUM[$cfg]="${SUM[$cfg]:-}"\
" $(rate_slice "$cfg" "$slice")"
			done
		done
		for cfg; do
			fig=$turn_fig
			[ "${cfg%+h}" = "$cfg" ] || fig=hrate
			read -r n l f secs ticks <<<"$(awk '
	{for (i = 1; i <= NF; i++) t[(i - 1) % 5] += $i}
	END {printf "%d %d %d %.3f %d\n", t[0], t[1], t[2], t[3], t[4]}' \
			    <<<"${SUM[$cfg]}")"
			add "$fig:${cfg%+[5h]}" "$(awk -v n="$n" -v s="$secs" \
			    'BEGIN {if (s > 0) printf "%.1f\n", n / s}')"
			# CPU per session: less disturbed by other load than the
			# rate
			# (not where the server is this machine's PID 1)
			[ "$fig" != rate ] || [ "${SPID[$cfg]}" = 1 ] ||
			    add "cpu_session:$cfg" "$(awk -v a="$ticks" \
			    -v t="$(getconf CLK_TCK)" -v n="$((n + l + f))" \
			    'BEGIN {if (n > 0)
				printf "%.2f\n", a * 1000 / t / n}')"
			[ "$f" = 0 ] ||
			    NOTES+=("$fig ${cfg%+[5h]}, repetition $r:"\
" $f sessions failed (not counted)")
		done
	done
}

# SOCKS4's sessions/s, and HTTP CONNECT's in the same turns: its ratio to
# SOCKS4 on the same server is then free of the machine's drift.
if has rate || has hrate; then
	# loadtool counts whole seconds (-t 0.6 would be its default, 10)
	slice=$(( SECS / SLICES > 0 ? SECS / SLICES : 1 ))
	section "session rate, $CLIENTS clients, $((slice * SLICES)) s in"\
" $SLICES slices"
	turns=()
	# Accept=yes's units alone and last: PID 1 goes on starting units for
	# the connections still queued when a slice ends, into the next slice.
	if has rate; then
		for cfg in "${RATE[@]}"; do
			[ "$cfg" = socks4d/systemd ] || turns+=("$cfg")
		done
	fi
	has hrate && turns+=("${HT[@]}")
	# warm up: page cache, danted's children
	for cfg in "${turns[@]}"; do
		"$LT" rate $(route "$cfg") -c "$CLIENTS" -t 1 >/dev/null 2>&1
	done
	rate_turns rate "$slice" "$SLICES" "${turns[@]}"
	! has rate || ! printf '%s\n' "${RATE[@]}" | grep -qx socks4d/systemd ||
	    rate_turns rate "$slice" "$SLICES" socks4d/systemd
fi


if has idle; then
	section "memory of $IDLE idle relayed sessions"
	for cfg in "${MEM[@]}"; do
		quiesce "$cfg"
		base=$(proc_line "$cfg")
		cg0=$(cg_read "$cfg") avail0=$(memavail)
		rm -f "$W/idle.in"; mkfifo "$W/idle.in"; : >"$W/idle.out"
		"$LT" idle $(route "$cfg") -k "$IDLE" -t 120 \
		    <"$W/idle.in" >"$W/idle.out" 2>>"$W/errors" &
		ipid=$!
		exec 7<>"$W/idle.in"	# read-write: opening never blocks
		for _ in $(seq 600); do
			grep -q 'state=ready' "$W/idle.out" && break
			kill -0 $ipid 2>/dev/null || break
			sleep 0.1
		done
		sleep 0.5
		held=$(proc_line "$cfg")
		cg1=$(cg_read "$cfg") avail1=$(memavail)
		ready=$(grep 'state=ready' "$W/idle.out")
		echo release >&7
		exec 7>&-
		wait $ipid
		done_line=$(grep 'state=released' "$W/idle.out")
		if [ "$(kv "$ready" sessions)" != "$IDLE" ] ||
		    [ "$(kv "$done_line" dropped)" != 0 ]; then
			say "bench: idle $cfg: $ready / $done_line"
			fail "idle:$cfg"
			[ -z "$cg0" ] || fail "idle_whole:$cfg"
			continue
		fi
		# Counted whole: what the server's cgroup was charged for them,
		# user and kernel, and of that the kernel's; the drop in the
		# machine's MemAvailable over the same sessions, for comparison
		# (the client's and the sink's sockets in it, and the rest of
		# the machine's doings).
		if [ -n "$cg0" ] && [ -n "$cg1" ]; then
			read -r u0 k0 <<<"$cg0"
			read -r u1 k1 <<<"$cg1"
			add "idle_whole:$cfg" "$(awk -v a="$u1" -v b="$u0" \
			    -v n="$IDLE" 'BEGIN {printf "%.1f\n", (a - b) / 1024 / n}')"
			add "idle_kernel:$cfg" "$(awk -v a="$k1" -v b="$k0" \
			    -v n="$IDLE" 'BEGIN {if (a != "" && b != "")
				printf "%.1f\n", (a - b) / 1024 / n}')"
		fi
		add "idle_avail:$cfg" "$(awk -v a="$avail0" -v b="$avail1" \
		    -v n="$IDLE" 'BEGIN {printf "%.1f\n", (a - b) / n}')"
		if [ "${KIND[$cfg]}" = perconn ]; then
			kids=$(kv "$held" children)
			[ "$kids" = "$IDLE" ] ||
			    NOTES+=("idle $cfg: $kids processes"\
" for $IDLE sessions")
			add "idle:$cfg" "$(awk \
			    -v p="$(kv "$held" child_pss_kib)" \
			    -v t="$(kv "$held" child_pte_kib)" -v n="$IDLE" \
			    'BEGIN {printf "%.1f\n", (p + t) / n}')"
			add "idle_server:$cfg" "$(( $(kv "$held" root_pss_kib) +
			    $(kv "$held" root_pte_kib) ))"
		else
			add "idle:$cfg" "$(awk -v n="$IDLE" \
			    -v a="$(( $(kv "$held" root_pss_kib) +
				$(kv "$held" root_pte_kib) +
				$(kv "$held" child_pss_kib) +
				$(kv "$held" child_pte_kib) ))" \
			    -v b="$(( $(kv "$base" root_pss_kib) +
				$(kv "$base" root_pte_kib) +
				$(kv "$base" child_pss_kib) +
				$(kv "$base" child_pte_kib) ))" \
			    'BEGIN {printf "%.1f\n", (a - b) / n}')"
			add "idle_server:$cfg" "$(( $(kv "$base" root_pss_kib) +
			    $(kv "$base" root_pte_kib) +
			    $(kv "$base" child_pss_kib) +
			    $(kv "$base" child_pte_kib) ))"
		fi
	done
fi

if has startup; then
	section "start-up: connect() to the 8-byte reply, $STARTUP samples"
	for r in $(seq "$REPS"); do
		for cfg in "${RATE[@]}"; do
			quiesce "$cfg"
			# systemd's tenth of a second a sample: fewer
			m=$STARTUP
			[ "${KIND[$cfg]}" = systemd ] &&
			    m=$(( (STARTUP + 4) / 5 ))
			line=$("$LT" startup $(route "$cfg") -m "$m" \
			    2>>"$W/errors")
			add "startup:$cfg" "$(kv "$line" median_us)"
			[ "$(kv "$line" failed)" = 0 ] || fail "startup:$cfg"
		done
	done
fi
# ---- SOCKS5 -------------------------------------------------------------
if has s5one; then
	section "SOCKS5 one stream, $ONE5 through one CONNECT"
	for r in $(seq "$REPS"); do
		for cfg in "${S5[@]}"; do stream s5one "$cfg" 1 "$ONE5"; done
	done
fi

# s5_rate FIGURE: sessions/s of the SOCKS5 twins, SECS5 s each a repetition
# in SLICES5 slices taken in turn, as the session-rate test above.
s5_rate() {
	rate_turns "$1" $(( SECS5 / SLICES5 > 0 ? SECS5 / SLICES5 : 1 )) \
	    "$SLICES5" "${S5[@]}"
}

if has s5rate; then
	section "SOCKS5 session rate, no authentication, $CLIENTS clients,"\
" $SECS5 s in $SLICES5 slices"
	for cfg in "${S5[@]}"; do		# warm up, as above
		"$LT" rate $(route "$cfg") -c "$CLIENTS" -t 1 >/dev/null 2>&1
	done
	s5_rate s5rate
fi
if has s5auth; then
	section "SOCKS5 session rate, username/password, $CLIENTS clients,"\
" $SECS5 s in $SLICES5 slices"
	S5_LOGIN="-U $S5_USER:$S5_PASS"
	s5_rate s5auth
	S5_LOGIN=
fi

# udp_run FIGURE CONFIG WINDOW: datagrams/s echoed and % lost, straight to
# the sink's UDP echo or through a UDP ASSOCIATE.
udp_run() {
	local fig=$1 cfg=$2 to line
	to="-d 127.0.0.1:$USINK"
	[ "$cfg" = direct ] ||
	    { quiesce "$cfg"; to="-x 127.0.0.1:${PORT[$cfg]} $to"; }
	if ! line=$("$LT" udp $to -t "$UDP_SECS" -s "$UDP_SIZE" -w "$3" \
	    2>>"$W/errors"); then
		say "bench: $fig $cfg: $line"
		fail "$fig:${cfg%+[5h]}"
		return
	fi
	add "$fig:${cfg%+[5h]}" "$(kv "$line" dgps)"
	add "${fig}_loss:${cfg%+[5h]}" "$(kv "$line" loss_pct)"
}

if has udp; then
	section "UDP ASSOCIATE, $UDP_SIZE-byte datagrams, $UDP_SECS s paced"\
" ($UDP_WINDOW unanswered) and $UDP_SECS s flat out"
	for r in $(seq "$REPS"); do
		for cfg in direct "${S5[@]}"; do
			udp_run udp "$cfg" "$UDP_WINDOW"
			udp_run udpflood "$cfg" 0
		done
	done
fi
section "done"

# ---- the table ----------------------------------------------------------
mkdir -p "$here/results"
stamp=$(date +%Y%m%d-%H%M%S)
CSV=$here/results/bench-$stamp.csv
TXT=$here/results/bench-$stamp.txt
echo "figure,config,unit,median,values,failures" >"$CSV"

declare -A MED
COLS=(direct socks4d/ssa socks4d/tcpserver socks4d/systemd socks4d/listener
	socks4d/listener-sd socks4d/listener-sd-file floor/ssa floor/tcpserver
	floor/fork danted haproxy)
for vn in "${VNAMES[@]}"; do COLS+=("$vn/ssa" "$vn/tcpserver"); done
FIGS=(one multi rate cpu_session startup idle idle_whole cpu_one cpu_multi
	cpu_path idle_server idle_kernel idle_avail
	s5one s5rate s5auth hrate udp udp_loss udpflood udpflood_loss)
declare -A UNIT=([one]=GB/s [multi]=GB/s [rate]=sessions/s [idle]="KiB/session"
	[idle_whole]="KiB/session" [idle_kernel]="KiB/session"
	[idle_avail]="KiB/session"
	[cpu_one]="CPU s/GiB" [cpu_multi]="CPU s/GiB" [startup]=us
	[idle_server]=KiB
	[cpu_session]="CPU ms/session" [cpu_path]="CPU s/GiB"
	[s5one]=GB/s [s5rate]=sessions/s [s5auth]=sessions/s [hrate]=sessions/s
	[udp]=datagrams/s
	[udp_loss]=%
	[udpflood]=datagrams/s [udpflood_loss]=%)
declare -A LABEL=([one]="one stream ($ONE)"
	[multi]="$STREAMS streams (aggregate)"
	[rate]="sessions/s ($CLIENTS clients)"
	[idle]="idle KiB/session, partial: PSS+PT"
	[idle_whole]="idle KiB/session, whole"
	[idle_kernel]="idle KiB/session, whole: kernel"
	[idle_avail]="idle KiB/session, MemAvailable"
	[cpu_one]="CPU s/GiB, one stream"
	[cpu_multi]="CPU s/GiB, $STREAMS streams"
	[startup]="start-up median, us" [idle_server]="server baseline KiB"
	[cpu_session]="CPU ms/session (server side)"
	[cpu_path]="CPU s/GiB, whole path, one"
	[s5one]="SOCKS5 one stream ($ONE5)"
	[s5rate]="SOCKS5 sessions/s, no auth"
	[s5auth]="SOCKS5 sessions/s, password"
	[hrate]="HTTP CONNECT sessions/s (socks4d)"
	[udp]="UDP dgram/s, $UDP_WINDOW in flight"
	[udp_loss]="UDP loss %, $UDP_WINDOW in flight"
	[udpflood]="UDP dgram/s echoed, flat out"
	[udpflood_loss]="UDP loss %, flat out")
for f in "${FIGS[@]}"; do
	for c in "${COLS[@]}"; do
		v=${VALS[$f:$c]:-}
		m=$(median $v)
		[ -n "${FAILS[$f:$c]:-}" ] && m=FAIL
		MED[$f:$c]=$m
		[ -n "$v" ] || [ -n "${FAILS[$f:$c]:-}" ] || continue
		echo "$f,$c,${UNIT[$f]},$m,"\
"$(echo $v | tr ' ' ';'),${FAILS[$f:$c]:-0}" >>"$CSV"
	done
done

measured() {	# FIGURE: some column has a figure or a failure
	local c
	for c in "${COLS[@]}"; do
		[ -n "${VALS[$1:$c]:-}${FAILS[$1:$c]:-}" ] && return 0
	done
	return 1
}

check() {	# NAME VALUE OP LIMIT
	local ok
	ok=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN {
		if (v == "NA" || l == "NA") {print "n/a"; exit}
		if (op == ">=") print (v >= l) ? "met" : "MISSED"
		else print (v <= l) ? "met" : "MISSED"}')
	printf '  %-44s %6s  (target %s %s)  %s\n' "$1" "$2" "$3" "$4" "$ok"
	echo "target,$1,ratio,$2,$3 $4,$ok" >>"$CSV"
}

{
	echo "socks4d benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r)," \
	    "$(nproc) CPUs, load average at end" \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "socks4d: $SOCKS4D_ID; floors (exec, fork) built by ${FLOOR_CC##*/} -static;" \
	    "medians of $REPS; super-servers: systemd-socket-activate -a" \
	    "--inetd (ssa), tcpserver -H -R -c 1000 -b 1024"
	printf '%-34s' "figure"
	for c in "${COLS[@]}"; do printf ' %17s' "$c"; done
	echo
	for f in "${FIGS[@]}"; do
		# SOCKS5 and HTTP CONNECT rows when run
		case $f in s5*|hrate|udp*) measured "$f" || continue ;; esac
		# in the line on memory below the table (and the CSV)
		case $f in idle_kernel|idle_avail) continue ;; esac
		printf '%-34s' "${LABEL[$f]}"
		for c in "${COLS[@]}"; do
			printf ' %17s' \
			    "$(sed 's/^$/-/; s/^NA$/-/' <<<"${MED[$f:$c]}")"
		done
		echo
	done
	echo "targets (ratios in this run):"
	check "one stream: socks4d / direct" \
	    "$(ratio "${MED[one:socks4d/ssa]}" "${MED[one:direct]}")" ">=" 0.9
	check "one stream: socks4d / danted" \
	    "$(ratio "${MED[one:socks4d/ssa]}" "${MED[one:danted]}")" ">=" 1
	check "$STREAMS streams: socks4d / direct" \
	    "$(ratio "${MED[multi:socks4d/ssa]}" \
		"${MED[multi:direct]}")" ">=" 0.85
	check "sessions/s: socks4d / floor (ssa)" \
	    "$(ratio "${MED[rate:socks4d/ssa]}" \
		"${MED[rate:floor/ssa]}")" ">=" 0.9
	check "sessions/s: socks4d / floor (tcpserver)" \
	    "$(ratio "${MED[rate:socks4d/tcpserver]}" \
		"${MED[rate:floor/tcpserver]}")" ">=" 0.9
	check "idle memory (PSS+PT): socks4d / danted" \
	    "$(ratio "${MED[idle:socks4d/ssa]}" "${MED[idle:danted]}")" "<=" 1
	check "idle memory (PSS+PT): socks4d KiB/session" \
	    "${MED[idle:socks4d/ssa]}" "<=" 200
	check "CPU/GiB: socks4d / danted" \
	    "$(ratio "${MED[cpu_one:socks4d/ssa]}" \
		"${MED[cpu_one:danted]}")" "<=" 0.5
	check "sessions/s: listener / danted" \
	    "$(ratio "${MED[rate:socks4d/listener]}" \
		"${MED[rate:danted]}")" ">=" 1.2
	check "start-up: listener / danted" \
	    "$(ratio "${MED[startup:socks4d/listener]}" \
		"${MED[startup:danted]}")" "<=" 1
	check "sessions/s: listener / fork floor" \
	    "$(ratio "${MED[rate:socks4d/listener]}" \
		"${MED[rate:floor/fork]}")" ">=" 0.9
	check "sessions/s: listener Accept=no / listener, to files" \
	    "$(ratio "${MED[rate:socks4d/listener-sd-file]}" \
		"${MED[rate:socks4d/listener]}")" ">=" 0.9
	check "idle memory (PSS+PT): listener KiB/session" \
	    "${MED[idle:socks4d/listener]}" "<=" 54
	check "idle memory (whole): listener / danted" \
	    "$(ratio "${MED[idle_whole:socks4d/listener]}" \
		"${MED[idle_whole:danted]}")" "<=" 0.25
	check "SOCKS5 one stream: socks4d / danted" \
	    "$(ratio "${MED[s5one:socks4d/ssa]}" "${MED[s5one:danted]}")" ">=" 1
	check "SOCKS5 sessions/s: listener / danted" \
	    "$(ratio "${MED[s5rate:socks4d/listener]}" \
		"${MED[s5rate:danted]}")" ">=" 1
	check "SOCKS5 logins/s: listener / danted" \
	    "$(ratio "${MED[s5auth:socks4d/listener]}" \
		"${MED[s5auth:danted]}")" ">=" 1
	check "UDP dgram/s paced: socks4d / danted" \
	    "$(ratio "${MED[udp:socks4d/ssa]}" "${MED[udp:danted]}")" ">=" 1
	check "UDP dgram/s flat out: socks4d / danted" \
	    "$(ratio "${MED[udpflood:socks4d/ssa]}" \
		"${MED[udpflood:danted]}")" ">=" 1
	check "UDP loss % paced: socks4d (limit: danted's)" \
	    "${MED[udp_loss:socks4d/ssa]}" "<=" "${MED[udp_loss:danted]}"
	check "UDP loss % flat out: socks4d (limit: danted's)" \
	    "${MED[udpflood_loss:socks4d/ssa]}" "<=" \
	    "${MED[udpflood_loss:danted]}"
	has s5rate && echo "SOCKS5 against preforked danted under ssa" \
	    "(no target: fork+exec per client):" \
	    "sessions/s $(ratio "${MED[s5rate:socks4d/ssa]}" \
		"${MED[s5rate:danted]}")x," \
	    "with a login $(ratio "${MED[s5auth:socks4d/ssa]}" \
		"${MED[s5auth:danted]}")x;" \
	    "UDP through the listener against danted:" \
	    "$(ratio "${MED[udp:socks4d/listener]}" \
		"${MED[udp:danted]}")x paced"
	has hrate && echo "HTTP CONNECT against SOCKS4, sessions/s on the" \
	    "same server in this run (no target; danted and HAProxy serve no" \
	    "HTTP CONNECT on a SOCKS port): ssa $(ratio "${MED[hrate:socks4d/ssa]}" \
		"${MED[rate:socks4d/ssa]}")x, listener" \
	    "$(ratio "${MED[hrate:socks4d/listener]}" \
		"${MED[rate:socks4d/listener]}")x"
	echo "listener against the fork floor (no target but sessions/s):" \
	    "CPU per session $(ratio "${MED[cpu_session:socks4d/listener]}" \
		"${MED[cpu_session:floor/fork]}")x," \
	    "start-up $(ratio "${MED[startup:socks4d/listener]}" \
		"${MED[startup:floor/fork]}")x," \
	    "idle memory, whole $(ratio "${MED[idle_whole:socks4d/listener]}" \
		"${MED[idle_whole:floor/fork]}")x"
	if measured idle_whole; then
		echo -n "idle memory counted whole, a memory cgroup a server" \
		    "(cgroup v$CG_V $([ "$CG_V" = 1 ] &&
			echo memory.usage_in_bytes || echo memory.current))," \
		    "KiB/session (of it the kernel's: stacks, page tables," \
		    "slab; and the drop in MemAvailable, machine-wide, the" \
		    "client's sockets and all else in it: a check only on" \
		    "a quiet machine):"
		for c in "${COLS[@]}"; do
			[ -n "${VALS[idle_whole:$c]:-}" ] || continue
			printf ' %s %s (%s; %s)' "$c" "${MED[idle_whole:$c]}" \
			    "${MED[idle_kernel:$c]}" "${MED[idle_avail:$c]}"
		done
		echo
	fi
	echo "against preforked danted" \
	    "(no target: it pays no fork+exec per client):" \
	    "sessions/s $(ratio "${MED[rate:socks4d/tcpserver]}" \
		"${MED[rate:danted]}")x," \
	    "start-up $(ratio "${MED[startup:socks4d/tcpserver]}" \
		"${MED[startup:danted]}")x" \
	    "(socks4d under tcpserver)"
	[ -n "$SD" ] && echo "listener Accept=no with records in the journal" \
	    "(the shipped unit; the target" \
	    "above has records to a file on both sides): sessions/s" \
	    "$(ratio "${MED[rate:socks4d/listener-sd]}" \
		"${MED[rate:socks4d/listener]}")x the listener," \
	    "$(ratio "${MED[rate:socks4d/listener-sd]}" \
		"${MED[rate:socks4d/listener-sd-file]}")x the unit with" \
	    "records to a file; CPU per session (journald's not counted)" \
	    "$(ratio "${MED[cpu_session:socks4d/listener-sd]}" \
		"${MED[cpu_session:socks4d/listener-sd-file]}")x"
	[ -n "$SD" ] && echo "systemd Accept=yes with the shipped units," \
	    "against systemd-socket-activate:" \
	    "sessions/s $(ratio "${MED[rate:socks4d/systemd]}" \
		"${MED[rate:socks4d/ssa]}")x," \
	    "CPU per session $(ratio "${MED[cpu_session:socks4d/systemd]}" \
		"${MED[cpu_session:socks4d/ssa]}")x," \
	    "start-up $(ratio "${MED[startup:socks4d/systemd]}" \
		"${MED[startup:socks4d/ssa]}")x"
	echo "relaying itself (HAProxy, splice, no SOCKS):" \
	    "one stream $(ratio "${MED[one:haproxy]}" \
		"${MED[one:direct]}")x direct," \
	    "$STREAMS streams $(ratio "${MED[multi:haproxy]}" \
		"${MED[multi:direct]}")x direct;" \
	    "socks4d / haproxy: one stream $(ratio "${MED[one:socks4d/ssa]}" \
		"${MED[one:haproxy]}")x," \
	    "$STREAMS streams $(ratio "${MED[multi:socks4d/ssa]}" \
		"${MED[multi:haproxy]}")x," \
	    "CPU/GiB $(ratio "${MED[cpu_one:socks4d/ssa]}" \
		"${MED[cpu_one:haproxy]}")x"
	# What the path's CPU allows: client, proxy and sink share the CPUs.
	echo "one stream, CPU per GiB of the whole path" \
	    "(client + sink + proxy)," \
	    "against the direct path's:" \
	    "through socks4d $(ratio "${MED[cpu_path:socks4d/ssa]}" \
		"${MED[cpu_path:direct]}")x," \
	    "through HAProxy $(ratio "${MED[cpu_path:haproxy]}" \
		"${MED[cpu_path:direct]}")x;" \
	    "on $(nproc) CPUs socks4d's path could carry at most" \
	    "$(awk -v c="${MED[cpu_path:socks4d/ssa]}" -v n="$(nproc)" \
	    -v d="${MED[one:direct]}" 'BEGIN {if (c + 0 > 0 && d + 0 > 0)
		printf "%.2f", n / c * 1.073741824 / d; else print "NA"}')x" \
	    "direct's rate"
	for vn in "${VNAMES[@]}"; do
		echo "variant $vn vs socks4d:" \
		    "one stream $(ratio "${MED[one:$vn/ssa]}" \
			"${MED[one:socks4d/ssa]}")x," \
		    "sessions/s ssa $(ratio "${MED[rate:$vn/ssa]}" \
			"${MED[rate:socks4d/ssa]}")x," \
		    "tcpserver $(ratio "${MED[rate:$vn/tcpserver]}" \
			"${MED[rate:socks4d/tcpserver]}")x," \
		    "start-up tcpserver" \
		    "$(ratio "${MED[startup:$vn/tcpserver]}" \
			"${MED[startup:socks4d/tcpserver]}")x," \
		    "idle memory $(ratio "${MED[idle:$vn/ssa]}" \
			"${MED[idle:socks4d/ssa]}")x"
	done
	for n in "${NOTES[@]}"; do echo "note: $n"; done
	[ -s "$W/errors" ] && echo "loadtool complained $(wc -l <"$W/errors")" \
	    "times; first: $(head -1 "$W/errors")"
	echo "took $((SECONDS - t_start)) s; CSV: ${CSV#$top/}"
} | tee "$TXT"
