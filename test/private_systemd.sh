#!/bin/sh
# private_systemd.sh start | run PID CMD... | stop PID
#                    | units PID NAME PORT PROGRAM CONF [socks4d options]
# | listener-units PID NAME PORT PROGRAM CONF [socks4d options]
#                    | remove PID NAME
#
# A real systemd (this machine's /lib/systemd/systemd) as PID 1 of its own
# PID, mount and cgroup namespaces, for machines whose PID 1 is not systemd
# (containers, CI).  It shares the network, so units listening on loopback
# are reachable from outside, and it is walled off from the host:
#   - the root file system, /sys and /proc/sys are read-only inside; /dev,
#     /run, /tmp, /var/tmp and /var/log/journal are private tmpfs;
#   - its cgroups live in a group of their own below the caller's, in every
#     hierarchy, and that group is all it sees of each hierarchy;
#   - it boots into an empty target, so nothing of sysinit.target (which
#     would clean /tmp, load sysctl settings, trigger udev) ever runs.
#     Units started in it must say DefaultDependencies=no (a drop-in).
#
#   start      boot it, wait for it and for journald; print the host PID of
#              its PID 1 (exit 1 with a reason on stderr if it does not boot)
#   run PID    run CMD inside, in the same working directory
#   stop PID   kill it and remove its cgroups
#   units ...  socks4d.socket and socks4d@.service from this tree, as NAME
#              listening on 127.0.0.1:PORT and running PROGRAM -c CONF
#              (both copied under /run/NAME, which PrivateTmp= and
#              ProtectHome= leave visible), started.  UNIT_SOCKET and
#              UNIT_SERVICE name other unit files to install instead, and
#              UNIT_DROPIN a drop-in for the service (e.g. a hardening set)
#   listener-units ...  the same for socks4d-listener.socket (Accept=no) and
#              socks4d-listener.service: NAME.socket and NAME.service
#   remove ... NAME stopped and its files gone
#   (enter and boot are its own steps into the namespaces)
# PID "-" is this machine's own systemd (PID 1).
# SPDX-License-Identifier: ISC
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

# inside PID CMD...: CMD where that systemd runs.
inside() {
	pid=$1
	shift
	if [ "$pid" = - ]; then "$@"; else nsenter -t "$pid" -m -p --wd="$PWD" \
		"$@"; fi
}

# put PID FILE: stdin into FILE, where that systemd runs.
put() { inside "$1" sh -c 'cat >"$1"' sh "$2"; }

# "MOUNTPOINT GROUP" for every cgroup hierarchy: GROUP is NAME below the
# group this process is in there.
own_groups() {
	awk -v name="$1" '
		FILENAME ~ /cgroup$/ {
			split($0, f, ":"); path[f[2]] = f[3]; next
		}
		$3 == "cgroup2" { g = $2 "/" path[""] "/" name }
		$3 == "cgroup" {
			g = ""
			for (c in path) {
				if (c == "") continue
				k = split(c, want, ","); hit = 0
				for (i = 1; i <= k; i++)
					hit += index("," $4 ",",
					    "," want[i] ",") > 0
				if (hit == k) g = $2 "/" path[c] "/" name
			}
			if (g == "") next
		}
		$3 ~ /^cgroup2?$/ { gsub(/\/+/, "/", g); print $2, g }
	' /proc/self/cgroup /proc/self/mounts
}

case ${1:-} in
start)
	# PIDs wrap (32768 here) and a group outlives its start script: the
	# time makes the name unique.
	name=private-systemd.$$.$(date +%s%N)
	log=$(mktemp /tmp/private-systemd.XXXXXX)
	own_groups "$name" >"$log.groups"
	"$0" enter "$log.groups" "$log" </dev/null >"$log" 2>&1 &
	# unshare forks the new PID 1: its child.
	pid=
	for _ in $(seq 100); do
		pid=$(pgrep -P $! -x systemd || true)
		[ -n "$pid" ] && break
		sleep 0.1
	done
	if [ -z "$pid" ]; then
		echo "private systemd did not start: $(cat "$log")" >&2
		kill $! 2>/dev/null || true
		"$0" stop none "$name"
		rm -f "$log" "$log.groups"
		exit 1
	fi
	rm -f "$log" "$log.groups"
	state=
	for _ in $(seq 150); do
		state=$(nsenter -t "$pid" -m -p systemctl is-system-running \
			2>/dev/null || true)
		[ "$state" = running ] && break
		sleep 0.1
	done
	if [ "$state" != running ]; then
		echo "private systemd is '$state', not running" >&2
		"$0" stop "$pid"
		exit 1
	fi
	nsenter -t "$pid" -m -p systemctl start systemd-journald.service
	echo "$pid"
	;;
enter)	# GROUPS LOG: into the new groups, then into the namespaces
	# (A cpuset group takes no process before it has CPUs and memory nodes.)
	while read -r mnt g; do
		mkdir "$g"
		for f in cpuset.cpus cpuset.mems; do
			if [ -f "$g/../$f" ]; then cat "$g/../$f" >"$g/$f"; fi
		done
		echo $$ >"$g/cgroup.procs"
	done <"$2"
	exec unshare --pid --fork --mount --cgroup --mount-proc "$0" boot "$2" \
		"$3"
	;;
boot)	# GROUPS LOG: PID 1 of the new namespaces, soon systemd
	mount --make-rprivate /
	while read -r mnt g; do mount --bind "$g" "$mnt"; done <"$2"
	# A /dev of its own: the host's is shared and writable (journald would
	# put its /dev/log there); the console is the log file.
	mount -t tmpfs -o mode=755,nosuid tmpfs /dev
	for n in null:3 zero:5 full:7 random:8 urandom:9; do
		mknod -m 666 "/dev/${n%:*}" c 1 "${n#*:}"
	done
	mknod -m 666 /dev/tty c 5 0
	touch /dev/console
	mount --bind "$3" /dev/console
	mkdir /dev/pts /dev/shm
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
	ln -s pts/ptmx /dev/ptmx
	ln -s /proc/self/fd /dev/fd
	mount -o remount,bind,ro /
	for d in /run /tmp /var/tmp /var/log/journal; do
		if [ -d "$d" ]; then mount -t tmpfs -o mode=755 tmpfs "$d"; fi
	done
	chmod 1777 /tmp /var/tmp /dev/shm
	for d in /proc/sys /sys; do
		mount --bind "$d" "$d"
		mount -o remount,bind,ro "$d"
	done
	# Shared within these namespaces (the host's stay apart: private
	# above), as a booted systemd makes / and as it needs for what it
	# mounts in a service's namespace from its own, LoadCredential='s
	# credentials; in a container (container=) it leaves that to us.
	mount --make-rshared /
	mkdir -p /run/systemd/system
	printf '[Unit]\nDescription=nothing\nDefaultDependencies=no\n' \
		>/run/systemd/system/private.target
	container=private-systemd exec /lib/systemd/systemd --system \
		--unit=private.target --log-target=console --log-level=warning
	;;
run)
	shift
	inside "$@"
	;;
units|listener-units)
	kind=$1 pid=$2 name=$3 port=$4 program=$5 conf=$6
	shift 6
	run=/run/$name sys=/run/systemd/system
	if [ "$kind" = units ]; then
		socket=socks4d.socket service=socks4d@.service \
			unit=$name@.service
	else
		socket=socks4d-listener.socket \
			service=socks4d-listener.service unit=$name.service
	fi
	inside "$pid" mkdir -p "$run"
	put "$pid" "$run/socks4d" <"$program"
	inside "$pid" chmod 755 "$run/socks4d"
	put "$pid" "$run/socks.conf" <"$conf"
	sed "s|^ListenStream=.*|ListenStream=127.0.0.1:$port|" \
		"${UNIT_SOCKET:-$top/$socket}" |
		put "$pid" "$sys/$name.socket"
	sed "s|^ExecStart=.*|ExecStart=$run/socks4d -c $run/socks.conf $*|;
		s|socks4d-listener\.socket|$name.socket|g" \
		"${UNIT_SERVICE:-$top/$service}" |
		put "$pid" "$sys/$unit"
	if [ -n "${UNIT_DROPIN:-}" ]; then
		inside "$pid" mkdir -p "$sys/$unit.d"
		put "$pid" "$sys/$unit.d/dropin.conf" <"$UNIT_DROPIN"
	fi
	if [ "$pid" != - ]; then	# keep sysinit.target out: see above
		for u in "$name.socket" "$unit"; do
			inside "$pid" mkdir -p "$sys/$u.d"
			printf '[Unit]\nDefaultDependencies=no\n' |
				put "$pid" "$sys/$u.d/private.conf"
		done
	fi
	inside "$pid" systemctl daemon-reload
	inside "$pid" systemctl start "$name.socket"
	;;
remove)
	pid=$2 name=$3 sys=/run/systemd/system
	inside "$pid" systemctl stop "$name.socket" 2>/dev/null || true
	inside "$pid" systemctl stop "$name.service" 2>/dev/null || true
	inside "$pid" rm -rf "$sys/$name.socket" "$sys/$name@.service" \
		"$sys/$name.socket.d" \
		"$sys/$name@.service.d" "$sys/$name.service" \
		"$sys/$name.service.d" "/run/$name"
	inside "$pid" systemctl daemon-reload
	;;
stop)
	pid=$2
	name=${3:-$(grep -o 'private-systemd\.[0-9.]*' "/proc/$pid/cgroup" \
		2>/dev/null | head -n 1)}
	# Killing PID 1 kills everything in its namespace; the groups empty
	# once the kernel has reaped them all.
	kill -KILL "$pid" 2>/dev/null || true
	[ -n "$name" ] || exit 0
	for _ in $(seq 100); do
		left=$(find $(awk '$3 ~ /^cgroup2?$/ { print $2 }' \
			/proc/self/mounts) \
			-maxdepth 4 -type d -name "$name" 2>/dev/null)
		[ -n "$left" ] || exit 0
		for g in $left; do find "$g" -depth -type d \
			-delete 2>/dev/null; done
		sleep 0.1
	done
	echo "private_systemd.sh: cgroups left behind: $left" >&2
	exit 1
	;;
*)
	echo "usage: private_systemd.sh start | run PID CMD... | stop PID |" \
		"units|listener-units PID NAME PORT PROGRAM CONF [options] |" \
		"remove PID NAME" >&2
	exit 2
	;;
esac
