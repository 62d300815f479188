#!/usr/bin/env bats
# make install / uninstall with PREFIX and DESTDIR, and the man pages.
# SPDX-License-Identifier: ISC
load test_helper
bats_require_minimum_version 1.5.0

# keeps an existing socks.conf; uninstall removes it
@test "make install puts everything under DESTDIR" {
	d=$BATS_TEST_TMPDIR/root
	run -0 make -C "$TOP" install DESTDIR="$d" PREFIX=/usr \
		unitdir=/lib/systemd/system
	for f in usr/sbin/socks4d etc/socks.conf usr/share/man/man8/socks4d.8 \
	    usr/share/man/man5/socks.conf.5 lib/systemd/system/socks4d.socket \
	    lib/systemd/system/socks4d@.service \
	    usr/lib/cgi-bin/socks4d/hw4.cgi \
	    usr/lib/cgi-bin/socks4d/form_get2.htm \
	    usr/lib/cgi-bin/socks4d/test_case/t1.txt; do
		[ -e "$d/$f" ] || die "missing $f"
	done
	# PREFIX=/usr means /etc for the configuration, in the unit and the man
	# page too
	grep -qx 'ExecStart=/usr/sbin/socks4d -c /etc/socks.conf' \
		"$d/lib/systemd/system/socks4d@.service"
	grep -q '/etc/socks.conf' "$d/usr/share/man/man8/socks4d.8"
	! grep -q "/usr/local" "$d/usr/share/man/man8/socks4d.8" ||
		die "matched, and should not have"
	# an edited socks.conf survives a second install
	echo 'permit c 10.0.0.0/8' > "$d/etc/socks.conf"
	run -0 make -C "$TOP" install DESTDIR="$d" PREFIX=/usr \
		unitdir=/lib/systemd/system
	[ "$(cat "$d/etc/socks.conf")" = 'permit c 10.0.0.0/8' ]
	run -0 make -C "$TOP" uninstall DESTDIR="$d" PREFIX=/usr \
		unitdir=/lib/systemd/system
	[ -z "$(find "$d" -type f ! -path '*/etc/socks.conf')" ] ||
		die "left behind: $(find "$d" -type f)"
}

# where systemd looks for local units, out of a package's way
@test "make install PREFIX=/usr/local puts the units under the PREFIX" {
	d=$BATS_TEST_TMPDIR/root
	run -0 make -C "$TOP" install DESTDIR="$d" PREFIX=/usr/local
	for u in socks4d.socket socks4d@.service socks4d-listener.socket \
	    socks4d-listener.service; do
		[ -f "$d/usr/local/lib/systemd/system/$u" ] ||
			die "$u not in /usr/local/lib/systemd/system"
	done
	run -0 find "$d" -path '*/systemd/system/*' ! -path "$d/usr/local/*"
	[ -z "$output" ] || die "units outside the PREFIX: $output"
	local l=/usr/local
	grep -qx "ExecStart=$l/sbin/socks4d -c $l/etc/socks.conf" \
		"$d$l/lib/systemd/system/socks4d@.service"
	run -0 make -C "$TOP" uninstall DESTDIR="$d" PREFIX=/usr/local
	run -0 find "$d" -mindepth 1
	[ -z "$output" ] || die "left behind: $output"
}

# A package took over some of the paths (dpkg-query -S names its files; a
# stand-in here): uninstall keeps those, says so, removes the rest.
@test "make uninstall keeps the files a package owns" {
	d=$BATS_TEST_TMPDIR/root
	local fake=$BATS_TEST_TMPDIR/dpkg-query asked=$BATS_TEST_TMPDIR/asked
	cat >"$fake" <<-EOF
		#!/bin/sh
		# dpkg-query -S PATH: the units and socks4d.8 are socks4d's
		echo "\$*" >>"$asked"
		case \$2 in
		*/lib/systemd/system/* | */man8/socks4d.8)
		   echo "socks4d: \$2" ;;
		*) echo "dpkg-query: no path found matching pattern \$2" >&2
		   exit 1 ;;
		esac
	EOF
	chmod 755 "$fake"
	run -0 make -C "$TOP" install DESTDIR="$d" PREFIX=/usr \
		unitdir=/lib/systemd/system
	run -0 make -C "$TOP" uninstall DESTDIR="$d" PREFIX=/usr \
		unitdir=/lib/systemd/system DPKG_QUERY="$fake"
	local f kept sys=/lib/systemd/system
	for f in $sys/socks4d.socket $sys/socks4d@.service \
	    $sys/socks4d-listener.socket $sys/socks4d-listener.service \
	    /usr/share/man/man8/socks4d.8; do
		[ -f "$d$f" ] || die "$f removed"
		[[ $output == *"kept $d$f: the package socks4d owns it"* ]] ||
			die "$f not said to be kept: $output"
	done
	# and nothing else
	kept=$(find "$d" -type f | sed "s|^$d||" | sort)
	[ "$kept" = "$(printf '%s\n' $sys/socks4d-listener.service \
		$sys/socks4d-listener.socket $sys/socks4d.socket \
		$sys/socks4d@.service /usr/share/man/man8/socks4d.8 |
		sort)" ] || die "left: $kept"
	# Every file was asked about, each by its absolute path.
	grep -qx -- "-S $d/usr/sbin/socks4d" "$asked"
	grep -qx -- "-S $d/etc/socks.conf" "$asked"
	grep -qx -- "-S $d/usr/lib/cgi-bin/socks4d/hw4.cgi" "$asked"
}

@test "the man pages are clean under mandoc -Tlint" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	run -0 mandoc -Tlint -Wwarning "$TOP/socks4d.8" "$TOP/socks.conf.5"
	[ -z "$output" ]
}
