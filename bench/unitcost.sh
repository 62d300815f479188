#!/usr/bin/env bash
# bench/unitcost.sh - what a per-connection unit costs: CPU per session of
# socks4d.socket (Accept=yes) with variants of socks4d@.service, under a
# private systemd (test/private_systemd.sh), counted as bench/bench.sh counts
# its systemd column: the CPU of that systemd's PID 1 and every process
# below it (the instances, journald, what PID 1 reaped) over a run of
# loadtool sessions, divided by the sessions.  Needs root.
#
# usage: bench/unitcost.sh NAME=SERVICE[+DROPIN] ...
#   each variant is a service file (ExecStart= is replaced by socks4d from
#   this tree with ./socks.conf), optionally with a drop-in on top, under a
#   NAME of letters, digits, - and _ (it becomes a unit's name); the
#   variants are measured in turns, ROUNDS times, SECS seconds each turn.
# Knobs: ROUNDS=5 SECS=3 CLIENTS=8 SOCKS4D=./socks4d
# Prints one line per variant: sessions, failed, CPU ms/session over all
# rounds, the median and range of the per-round figures, sessions/s.
# SPDX-License-Identifier: ISC
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
SOCKS4D=$(readlink -f "${SOCKS4D:-$top/socks4d}")
CONF=$top/socks.conf
ROUNDS=${ROUNDS:-5} SECS=${SECS:-3} CLIENTS=${CLIENTS:-8}
LT=$here/loadtool
PS=$top/test/private_systemd.sh
# The work directory: every file the run writes goes there, and cleanup
# removes it; without one the script stops before writing anything.
W=$(mktemp -d /tmp/socks4d-unitcost.XXXXXX)
SD= SINK_PID=
NAMES=()

say() { printf '%s\n' "$*" >&2; }
die() { say "unitcost: $*"; exit 1; }
case $W in
/tmp/socks4d-unitcost.?*) [ -d "$W" ] && [ ! -L "$W" ] ;;
*) false ;;
esac || die "no work directory in /tmp (mktemp failed)"

cleanup() {
	local n
	if [ -n "$SD" ]; then
		for n in "${NAMES[@]}"; do
			"$PS" remove "$SD" "uc-$n" 2>/dev/null
		done
		"$PS" stop "$SD"
	fi
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ $# -gt 0 ] || die "usage: unitcost.sh NAME=SERVICE[+DROPIN] ..."
[ "$(id -u)" = 0 ] || die "installing units needs root"
[ -x "$SOCKS4D" ] || die "no socks4d at $SOCKS4D (run make first)"
cc -O2 -Wall -Wextra -Werror -o "$LT" "$here/loadtool.c" ||
	die "loadtool does not build"

kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

"$LT" serve -l 127.0.0.1:0 -t 3600 >"$W/sink.out" 2>"$W/sink.log" </dev/null &
SINK_PID=$!
for _ in $(seq 100); do
	grep -q '^port=' "$W/sink.out" && break
	sleep 0.05
done
SINK=$(sed -n 's/^port=//p' "$W/sink.out")
[ -n "$SINK" ] || die "sink did not start"

SD=$("$PS" start) || die "no private systemd would boot"
declare -A PORT
for v in "$@"; do
	n=${v%%=*} files=${v#*=}
	[[ $n =~ ^[A-Za-z0-9_-]+$ ]] || die "variant name '$n':" \
		"letters, digits, - and _ only (a unit name)"
	svc=${files%%+*} dropin=
	[ "$files" != "$svc" ] && dropin=${files#*+}
	port=$("$LT" freeport)
	UNIT_SERVICE=$svc UNIT_DROPIN=$dropin \
		"$PS" units "$SD" "uc-$n" "$port" "$SOCKS4D" "$CONF" ||
		die "variant $n did not start"
	PORT[$n]=$port
	NAMES+=("$n")
	# warm up
	"$LT" rate -x "127.0.0.1:$port" -d "127.0.0.1:$SINK" -c 2 -t 1 \
		>/dev/null 2>&1
done

ticks() { kv "$("$LT" proc "$SD")" ticks; }

# Until PID 1 has no socks4d left, and a moment more for its own clean-up
# of the last units.
quiesce() {
	for _ in $(seq 200); do
		pgrep -P "$SD" -x socks4d >/dev/null || break
		sleep 0.05
	done
	sleep 0.5
}

declare -A SESS FAILED TICKS ROUNDV SECSUM
hz=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
	for n in "${NAMES[@]}"; do
		quiesce
		before=$(ticks)
		line=$("$LT" rate -x "127.0.0.1:${PORT[$n]}" \
			-d "127.0.0.1:$SINK" -c "$CLIENTS" -t "$SECS" \
			2>>"$W/errors")
		quiesce
		after=$(ticks)
		s=$(( $(kv "$line" sessions) + $(kv "$line" late) +
			$(kv "$line" failed) ))
		SESS[$n]=$(( ${SESS[$n]:-0} + s ))
		FAILED[$n]=$(( ${FAILED[$n]:-0} + $(kv "$line" failed) ))
		TICKS[$n]=$(( ${TICKS[$n]:-0} + after - before ))
		SECSUM[$n]=$(awk -v a="${SECSUM[$n]:-0}" \
			-v b="$(kv "$line" secs)" 'BEGIN {print a + b}')
		ROUNDV[$n]="${ROUNDV[$n]:-} $(awk -v t=$((after - before)) \
			-v s="$s" -v hz="$hz" \
			'BEGIN {if (s) printf "%.1f", t * 1000 / hz / s}')"
	done
	say "unitcost: round $r of $ROUNDS done"
done

printf '%-16s %8s %6s %10s %10s %12s %10s\n' \
	variant sessions failed "ms/session" median range sessions/s
for n in "${NAMES[@]}"; do
	read -r med lo hi <<<"$(tr ' ' '\n' <<<"${ROUNDV[$n]}" |
		grep . | sort -g |
		awk '{a[NR] = $1}
	END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
			print m, a[1], a[NR]}')"
	printf '%-16s %8d %6d %10.1f %10.1f %12s %10.1f\n' \
		"$n" "${SESS[$n]}" "${FAILED[$n]}" \
		"$(awk -v t="${TICKS[$n]}" -v s="${SESS[$n]}" -v hz="$hz" \
			'BEGIN {print s ? t * 1000 / hz / s : 0}')" \
		"$med" "$lo-$hi" \
		"$(awk -v s="${SESS[$n]}" -v t="${SECSUM[$n]}" \
			'BEGIN {print t ? s / t : 0}')"
done
[ -s "$W/errors" ] && say "unitcost: loadtool complained" \
	"$(wc -l <"$W/errors") times: $(head -n 1 "$W/errors")"
exit 0
