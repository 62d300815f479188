#!/usr/bin/env bats
# make install / uninstall with PREFIX and DESTDIR, and the man pages.
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

@test "the man pages are clean under mandoc -Tlint" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	run -0 mandoc -Tlint -Wwarning "$TOP/socks4d.8" "$TOP/socks.conf.5"
	[ -z "$output" ]
}
