#!/usr/bin/env bats
# The Debian package's life on this machine: built (twice: the changelog's
# version and a bumped one) from a copy of the tree by debian/build-deb.sh,
# installed with apt from the file, serving through its own units under a
# real systemd (the private one of private_systemd.sh where PID 1 is not
# systemd), upgraded with an edited conffile, purged.  The tests run in
# order and share that one installation; teardown_file purges it whatever
# failed.  Needs root, debhelper and lintian.
# SPDX-License-Identifier: ISC

BATS_TEST_TIMEOUT=180
load test_helper
bats_require_minimum_version 1.5.0

# apt_get ARGS...: apt-get without questions, waiting for a lock that
# another apt holds rather than failing.
apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -y \
		-q -o DPkg::Lock::Timeout=120 "$@" </dev/null
}

# pkg_status: socks4d's dpkg status ("installed", "config-files", ...), or
# "not-installed".
pkg_status() {
	local s
	s=$(dpkg-query -W -f '${db:Status-Status}' socks4d 2>/dev/null) ||
		s=not-installed
	echo "${s:-not-installed}"
}

# named_socks4d: every path on this machine's system directories named
# after socks4d (so also what a maintainer script made), sorted.
named_socks4d() {
	find /etc /usr /var /opt /srv -xdev \( -path /var/tmp -o \
		-path /var/cache -o -path /var/log \) -prune \
		-o -name '*socks4d*' -print 2>/dev/null | sort
}

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	[ "$(id -u)" = 0 ] || skip "installing a package needs root"
	local tool
	for tool in dpkg-buildpackage dh lintian apt-get; do
		command -v "$tool" >/dev/null ||
			skip "$tool is not installed (make deps)"
	done
	(cd "$TOP" && dpkg-checkbuilddeps) ||
		skip "the build dependencies are missing (make deps)"
	local why="a socks4d package is on this machine already"
	[ "$(pkg_status)" = not-installed ] ||
		skip "$why ($(pkg_status)): this test would purge it"
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/v1" "$d/v2" "$d/www"
	export V1 V2 DEB1 DEB2 UNITDIR SD_PID= PORT
	V1=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version)
	V2=$V1+debtest1
	DEB1=$("$TOP/debian/build-deb.sh" "$d/v1") ||
		die "the package did not build"
	DEB2=$("$TOP/debian/build-deb.sh" "$d/v2" "$V2") ||
		die "the bumped package did not build"
	UNITDIR=$(dpkg-deb --fsys-tarfile "$DEB1" | tar -t |
		sed -n 's|^\.\(.*/systemd/system\)/socks4d\.socket$|\1|p')
	[ -n "$UNITDIR" ] || die "no socks4d.socket in $DEB1"
	# What of the package's paths (directories, mostly) is here already.
	dpkg-deb --fsys-tarfile "$DEB1" | tar -t |
		sed 's|^\.||; s|/$||; /^$/d' |
		while read -r p; do if [ -e "$p" ] ||
		[ -L "$p" ]; then echo "$p"; fi; done >"$d/there-before"
	named_socks4d >"$d/named-before"
	export MARKER="deb page $RANDOM$RANDOM"
	printf '<html><body>%s</body></html>\n' "$MARKER" >"$d/www/index.html"
	start_web HTTP 127.0.0.1 "$d/www"
	if [ ! -d /run/systemd/system ]; then
		SD_PID=$("$BATS_TEST_DIRNAME/private_systemd.sh" start) ||
			skip_no_systemd
	fi
	# The installed units as they are, but for the port (1080 may be in
	# use here) and, for the private systemd, no sysinit.target.
	PORT=$(free_port)
	local sys=/run/systemd/system
	sd mkdir -p "$sys/socks4d.socket.d" "$sys/socks4d@.service.d"
	printf '%s\n' '[Unit]' DefaultDependencies=no '[Socket]' ListenStream= \
		"ListenStream=127.0.0.1:$PORT" |
		sd sh -c 'cat >"$1"' sh "$sys/socks4d.socket.d/deb-test.conf"
	printf '[Unit]\nDefaultDependencies=no\n' |
		sd sh -c 'cat >"$1"' sh "$sys/socks4d@.service.d/deb-test.conf"
}

teardown_file() {
	if [ -e "$BATS_FILE_TMPDIR/installed" ] &&
		[ "$(pkg_status)" != not-installed ]; then
		sd systemctl stop socks4d.socket 2>/dev/null || true
		apt_get purge socks4d >/dev/null 2>&1 ||
			dpkg --purge socks4d >/dev/null || true
	fi
	local link=/etc/lighttpd/conf-enabled/50-socks4d.conf
	if [ -e "$BATS_FILE_TMPDIR/lighty-enabled" ] && [ -L "$link" ] &&
		[ ! -e "$link" ]; then
		rm -f "$link"
	fi
	if [ -n "${SD_PID:-}" ]; then
		"$BATS_TEST_DIRNAME/private_systemd.sh" stop "$SD_PID"
	elif [ -n "${PORT:-}" ]; then
		rm -f /run/systemd/system/socks4d.socket.d/deb-test.conf \
			/run/systemd/system/socks4d@.service.d/deb-test.conf
		rmdir /run/systemd/system/socks4d.socket.d \
			/run/systemd/system/socks4d@.service.d 2>/dev/null ||
			true
		systemctl daemon-reload || true
	fi
	kill_pids "${HTTP_PID:-}"
	[ ! -s "$BATS_FILE_TMPDIR/lighttpd.pid" ] ||
		kill_pids "$(cat "$BATS_FILE_TMPDIR/lighttpd.pid")"
	return 0
}

# served_by_package: a curl --socks4a request through the installed
# socket on $PORT gets the page, the journal has its accepted record, and the
# package's socks4d@.service runs the package's command line.
served_by_package() {
	local cport out tries=100
	cport=$(client_port)
	run -0 curl -sS --fail --max-time 20 --local-port "$cport" \
		--socks4a "127.0.0.1:$PORT" \
		"http://localhost:$HTTP_PORT/"
	[[ $output == *"$MARKER"* ]] || die "not the page: $output"
	# (not by _SYSTEMD_UNIT: journald reads it from /proc, where a session
	# already reaped has none; only the package's units run in there)
	until out=$(sd journalctl --no-pager -o verbose \
		"SOCKS_SRC=127.0.0.1:$cport") &&
		grep -qx '    SOCKS_REPLY=Accept' <<<"$out"; do
		(( tries-- > 0 )) ||
			die "no journal record of client port $cport:" \
				"$(sd journalctl --no-pager -n 20)"
		sleep 0.1
	done
	grep -qx '    SOCKS_REPLY=Accept' <<<"$out" || die "not accepted: $out"
	# journald reads _CMDLINE from /proc when the entry comes, which a
	# session that has already exited no longer has: ask the unit instead.
	run -0 sd systemctl cat socks4d@.service
	grep -qx 'ExecStart=/usr/sbin/socks4d -c /etc/socks4d/socks.conf' \
		<<<"$output" ||
		die \
		"not the package's command line: $(grep ExecStart <<<"$output")"
}

@test "deb: lintian finds no error and no warning in the package" {
	run lintian --fail-on error,warning "${DEB1%.deb}.changes"
	[ "$status" = 0 ] || die "lintian: $output"
	[[ $output != *"E: "* ]] || die "$output"
	[[ $output != *"W: "* ]] || die "$output"
}

# every other unit not enabled
@test "deb: apt installs it from the file, socks4d.socket enabled" {
	touch "$BATS_FILE_TMPDIR/installed"
	run -0 apt_get install "$DEB1"
	# Where PID 1 is not systemd (no /run/systemd/system), postinst says
	# once that nothing listens, and what to run instead; else nothing.
	local said want=0 doc=/usr/share/doc/socks4d
	said=$(grep -c 'systemd is not running here' <<<"$output" || true)
	[ -d /run/systemd/system ] || want=1
	[ "$said" = "$want" ] || die "said $said times, not $want: $output"
	said=$(grep -c "$doc/examples/inetd.conf.example" <<<"$output" ||
		true)
	[ "$said" = "$want" ] || die "the example named $said times: $output"
	# README, the man pages' examples and the example configs
	for f in "$doc/README.md.gz" "$doc/examples/inetd.conf.example" \
	    "$doc/examples/socks.conf" "$doc/examples/socks4d-strict.conf" \
	    "$doc/examples/socks4d-listener-records-file.conf" \
	    "$doc/examples/haproxy.cfg" \
	    "$doc/examples/fail2ban/filter.d/socks4d.conf" \
	    "$doc/examples/fail2ban/jail.d/socks4d.local"; do
		[ -f "$f" ] || die "missing $f"
	done
	zcat "$doc/README.md.gz" | cmp - "$TOP/README.md"
	# the examples name the package's paths, not make install's
	run ! grep -r /usr/local "$doc/examples"
	grep -q '/usr/sbin/socks4d.*-c /etc/socks4d/socks\.conf' \
		"$doc/examples/inetd.conf.example"
	run -0 grep -c '^License: ISC$' "$doc/copyright"
	[ "$(pkg_status)" = installed ] || die "status $(pkg_status)"
	[ "$(dpkg-query -W -f '${Version}' socks4d)" = "$V1" ] ||
		die "not version $V1"
	for f in /usr/sbin/socks4d /usr/share/man/man8/socks4d.8.gz \
		/usr/share/man/man5/socks.conf.5.gz \
	    "$UNITDIR/socks4d.socket" "$UNITDIR/socks4d@.service" \
	    /usr/lib/cgi-bin/socks4d/hw4.cgi \
	    /usr/lib/cgi-bin/socks4d/form_get2.htm \
	    /usr/lib/cgi-bin/socks4d/test_case/t1.txt \
	    /etc/lighttpd/conf-available/50-socks4d.conf; do
		[ -f "$f" ] || die "missing $f"
	done
	# The program's own version is the package's, and it is the static
	# build.
	run -0 /usr/sbin/socks4d -V
	[[ $output == "socks4d $V1 "* ]] ||
		die "socks4d -V: $output, the package is $V1"
	[[ $output == *static* ]] || die "not linked statically: $output"
	[ ! -e /etc/lighttpd/conf-enabled/50-socks4d.conf ] ||
		die "the lighttpd snippet is enabled"
	run -0 dpkg-query -W -f '${Conffiles}\n' socks4d
	grep -q '^ /etc/socks4d/socks.conf [0-9a-f]\{32\}$' <<<"$output" ||
		die "socks.conf is no conffile: $output"
	cmp /etc/socks4d/socks.conf "$TOP/socks.conf" ||
		die "not the shipped socks.conf"
	# The users file's place: root's alone; no file until the admin makes
	# one.
	[ "$(stat -c '%U:%G %a' /etc/socks4d)" = "root:root 755" ] ||
		die "/etc/socks4d is $(stat -c '%U:%G %a' /etc/socks4d)"
	[ ! -e /etc/socks4d/socks.passwd ] ||
		die "the package made a users file"
	[ -L /etc/systemd/system/sockets.target.wants/socks4d.socket ] ||
		die "socks4d.socket is not enabled"
	sd systemctl daemon-reload
	run -0 sd systemctl is-enabled socks4d.socket
	[ "$output" = enabled ] || die "socks4d.socket is $output"
	local u
	for u in "$UNITDIR"/socks4d*; do
		u=${u##*/}
		case $u in socks4d.socket | *@*) continue ;; esac
		run sd systemctl is-enabled "$u"
		# a service its socket starts has no [Install] section: static
		case $output in disabled | static) ;; *) die \
			"$u is $output, not disabled" ;; esac
	done
}

# (the default path) and decides by it
@test "deb: socks4d -t passes the installed socks.conf" {
	run -0 /usr/sbin/socks4d -t
	run -0 /usr/sbin/socks4d -t c 127.0.0.1 80
	[[ $output == permit*"/etc/socks4d/socks.conf:"* ]] || die "$output"
	run -1 /usr/sbin/socks4d -t c 192.0.2.1 80
	[[ $output == reject* ]] || die "$output"
}

# `make uninstall` with the package's own paths, as if a `make install` had
# been overwritten by the package: dpkg-query names each file's owner, and
# every one is kept (dpkg --verify: none missing)
@test "deb: make uninstall removes no file the package owns" {
	run -0 make -C "$TOP" --no-print-directory uninstall PREFIX=/usr \
		sysconfdir=/etc/socks4d unitdir="$UNITDIR" \
		cgidir=/usr/lib/cgi-bin/socks4d
	local f
	for f in "$UNITDIR/socks4d.socket" /usr/sbin/socks4d \
	    /etc/socks4d/socks.conf /usr/lib/cgi-bin/socks4d/hw4.cgi; do
		[[ $output == *"kept $f: the package socks4d owns it"* ]] ||
			die "$f not kept: $output"
	done
	[[ $output != *"rm -f"* ]] || die "removed: $output"
	run dpkg --verify socks4d
	[ -z "$output" ] || die "dpkg --verify: $output"
}

@test "deb: the installed units serve a curl --socks4a request" {
	run -0 sd systemctl start socks4d.socket
	wait_for_port 127.0.0.1 "$PORT"
	served_by_package
}

# serves the form and runs hw4.cgi
@test "deb: the lighttpd snippet, once included" {
	local d=$BATS_FILE_TMPDIR port
	port=$(free_port)
	cat >"$d/lighttpd.conf" <<-EOF
		server.document-root = "$d/www"
		server.bind = "127.0.0.1"
		server.port = $port
		server.errorlog = "$d/lighttpd.log"
		server.modules = ( "mod_indexfile", "mod_staticfile" )
		mimetype.assign = ( ".htm" => "text/html" )
		include "/etc/lighttpd/conf-available/50-socks4d.conf"
	EOF
	lighttpd -D -f "$d/lighttpd.conf" </dev/null >>"$d/lighttpd.log" 2>&1 \
		3>&- &
	echo $! >"$d/lighttpd.pid"
	wait_for_port 127.0.0.1 "$port" ||
		die "lighttpd: $(tail -n 5 "$d/lighttpd.log")"
	run -0 curl -sS --fail --max-time 20 "http://127.0.0.1:$port/socks4d/"
	[ "$output" = "$(cat /usr/lib/cgi-bin/socks4d/form_get2.htm)" ] ||
		die "not the form: $output"
	run -0 curl -sS --fail --max-time 20 -D "$d/cgi.head" -o "$d/cgi.body" \
		"http://127.0.0.1:$port/socks4d/hw4.cgi"
	grep -qi '^content-type: text/html' "$d/cgi.head" ||
		die "not the CGI's page: $(cat "$d/cgi.head")"
	! grep -q ELF "$d/cgi.body" ||
		die "hw4.cgi's bytes were served, not run"
	kill_pids "$(cat "$d/lighttpd.pid")"
	rm "$d/lighttpd.pid"
}

# an upgrade to a rebuilt, bumped version
@test "deb: an upgrade keeps the edited socks.conf" {
	local edit='deny c 127.0.0.2    # edited by deb.bats'
	sed -i "1i $edit" /etc/socks4d/socks.conf
	run -0 apt_get install "$DEB2"
	[ "$(dpkg-query -W -f '${Version}' socks4d)" = "$V2" ] ||
		die "not upgraded to $V2"
	[ "$(head -n 1 /etc/socks4d/socks.conf)" = "$edit" ] ||
		die "the edit is gone: $(head -n 3 /etc/socks4d/socks.conf)"
	# Every file is the new package's, but for the edited conffile.
	run dpkg --verify socks4d
	[ "$output" = '??5?????? c /etc/socks4d/socks.conf' ] ||
		die "dpkg --verify: $output"
	run -0 ls /etc/socks4d
	[ "$output" = socks.conf ] || die "/etc/socks4d holds: $output"
	run -1 /usr/sbin/socks4d -t c 127.0.0.2 80
	[[ $output =~ ^reject.*/etc/socks4d/socks\.conf:1([^0-9]|$) ]] ||
		die "the edit does not decide: $output"
	served_by_package
}

# and nothing that was there before
@test "deb: purge removes every file the package installed" {
	run -0 dpkg -L socks4d
	local installed=$output p left=
	sd systemctl stop socks4d.socket
	# An administrator had enabled hw4.cgi in lighttpd.
	touch "$BATS_FILE_TMPDIR/lighty-enabled"
	run -0 lighty-enable-mod socks4d
	[ -L /etc/lighttpd/conf-enabled/50-socks4d.conf ] ||
		die "lighty-enable-mod socks4d: $output"
	run -0 apt_get purge socks4d
	[ "$(pkg_status)" = not-installed ] || die "status $(pkg_status)"
	while read -r p; do
		[ "$p" != /. ] || continue
		if grep -qxF -- "$p" "$BATS_FILE_TMPDIR/there-before"; then
			[ -e "$p" ] ||
				die "purge removed $p, which was there before"
		elif ls -d -- "$p" 2>/dev/null; then
			left+=" $p"
		fi
	done <<<"$installed"
	[ -z "$left" ] || die "left behind:$left"
	# Nor anything else named after socks4d (what enabling socks4d.socket
	# made).
	run -0 comm -13 "$BATS_FILE_TMPDIR/named-before" <(named_socks4d)
	[ -z "$output" ] || die "left behind: $output"
}
