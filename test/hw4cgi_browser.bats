#!/usr/bin/env bats
# hw4.cgi in a real browser: headless Chromium driven by Selenium
# (test/hw4cgi_browser.py) reads the DOM of the result page while it
# streams and when it is done, and takes a screenshot at both moments.
# lighttpd runs the CGI; five stand-in shells (test/rshell.py) sit behind
# socks4d.  Each test file holds its session at "wait-file go" until the
# test creates the file: that is "mid-stream", whatever the machine's speed.
# HW4_SHOTS=DIR keeps the two screenshots there (hw4cgi/doc/ has them,
# made smaller with pngquant --quality 70-95).
# SPDX-License-Identifier: ISC

load test_helper

setup_file() {
	local i out
	out=$(make -s -C "$CGI_DIR" hw4.cgi 2>&1) || die "$out"
	[ -x "$SOCKS4D" ] || die "no $SOCKS4D: run make first"
	"$PYTHON" -c 'import selenium' ||
		die "python3-selenium is not installed"
	[ -x /usr/bin/chromedriver ] || die "chromium-driver is not installed"

	export TESTDIR=$BATS_FILE_TMPDIR/test_case GATES=$BATS_FILE_TMPDIR/gates
	mkdir -p "$TESTDIR" "$GATES"
	cp "$CGI_DIR"/test_case/t[1-5].txt "$TESTDIR/"
	# Five busy sessions: some commands, some output, the gate, 3,000 lines.
	printf 'ls\ncat poem.txt\nlines 40\nwait-file go\nlines 3000\nexit\n' \
		>"$TESTDIR/b1.txt"
	printf '%s\n' 'printenv PATH' 'setenv PATH bin:/usr/bin' \
		'printenv PATH' 'lines 30' 'wait-file go' 'lines 3000' exit \
		>"$TESTDIR/b2.txt"
	printf '%s\n' 'cat hello.txt' 'cat nosuch.txt' 'lines 50' \
		'wait-file go' 'lines 3000' exit >"$TESTDIR/b3.txt"
	printf '%s\n' 'echo one two three' 'cat test.html' 'lines 35' \
		'wait-file go' 'lines 3000' exit >"$TESTDIR/b4.txt"
	printf '%s\n' evil-html evil-utf8 'lines 45' \
		'wait-file go' 'lines 3000' exit >"$TESTDIR/b5.txt"

	for i in 1 2 3 4 5; do
		inetd_server "127.0.0.$((i + 1))" "$PYTHON" "$RSHELL" \
			--name "s$i" --dir "$GATES"
		export "SH$i=$SRV_PORT"
	done
	start_open_socks4d
	start_lighttpd "$TESTDIR" 30
	export WEB
}

teardown_file() {
	stop_spawned
}

# query FILE-PREFIX: the five rows through socks4d, files PREFIX1..5.txt.
query() {
	local i q=
	for i in 1 2 3 4 5; do
		q+="${q:+&}h$i=127.0.0.$((i + 1))&p$i=$(eval echo "\$SH$i")"
		q+="&f$i=$1$i.txt&sh$i=127.0.0.1&sp$i=$SOCKS_PORT"
	done
	echo "$q"
}

# png_size FILE: "WIDTHxHEIGHT" of a PNG (its IHDR), or nothing.
png_size() {
	"$PYTHON" -c 'import struct, sys
d = open(sys.argv[1], "rb").read(24)
if d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR":
    print("%dx%d" % struct.unpack(">II", d[16:24]))' "$1"
}

# pinned unless scrolled up, final, nothing from a shell is markup
@test "chromium, 1280x800: five busy panes mid-stream and done, bounded" {
	local shots=${HW4_SHOTS:-$BATS_TEST_TMPDIR} out=$BATS_TEST_TMPDIR/seen i
	rm -f "$GATES/go"
	mkdir -p "$shots"
	"$PYTHON" "$BATS_TEST_DIRNAME/hw4cgi_browser.py" stream \
		"$WEB/hw4.cgi?$(query b)" \
		"$GATES/go" "$shots" \
		"$(mktemp -d "$BATS_FILE_TMPDIR/profile.XXXXXX")" >"$out" ||
		die "browser: $(cat "$out")"
	cat "$out" | sed 's/^/# /' >&3
	eval "$(cat "$out")"
	# Mid-stream: every pane running, its clock going, at the bottom.
	[ "${mid_states[*]}" = "running running running running running" ]
	for i in 0 1 2 3 4; do [[ ${mid_clocks[i]} =~ ^[0-9]+\.[0-9]s$ ]] ||
		die "clock ${mid_clocks[i]}"; done
	[ "$mid_pinned" -eq 5 ]
	# Done: every pane final (the shells said exit), 3,000 lines further on.
	[ "${done_states[*]}" = "closed closed closed closed closed" ]
	for i in 0 1 2 3 4; do
		(( done_lines[i] > 3000 )) ||
			die "pane $((i + 1)): ${done_lines[i]} lines"
		(( done_full[i] > 10 * pane_height[i] )) ||
			die "pane $((i + 1)) is not scrolling"
	done
	# The page is as tall as the window, however long the output.
	(( page <= view )) || die "page $page px in a $view px window"
	(( page == mid_page )) || die "page grew from $mid_page to $page px"
	# Pane 1 stays where its reader left it; the others follow the output.
	[ "$kept" -eq 120 ]
	[ "$scrolled_top" -eq 120 ]
	[ "${pinned[*]}" = "0 1 1 1 1" ]
	# Nothing from a shell became an element; pane 5 ran evil-html.
	[ "$foreign" -eq 0 ]
	[ "$images" -eq 0 ]
	[ "$scripts_in_panes" -eq 0 ]
	# Lines wrap between words (a word longer than the pane is broken);
	# commands stand apart from output.
	[ "$wrap" = pre-wrap/break-word/normal ]
	[ "$cmd_apart" -eq 1 ]
	# Five side by side; light by default, dark when the system is.
	[ "$columns" -eq 5 ]
	awk -v l="$light" -v d="$dark" 'BEGIN { exit !(l > 0.8 && d < 0.2) }' ||
		die "light $light dark $dark"
	# A phone: stacked, nothing wider than the screen.
	[ "$phone_lefts" -eq 1 ]
	[ "$phone_stacked" -eq 1 ]
	[ "$phone_overflow" -le 0 ]
	[ "$(png_size "$shots/mid.png")" = 1280x800 ]
	[ "$(png_size "$shots/done.png")" = 1280x800 ]
}

# errors at their field; back from a page keeps its values
@test "chromium: hw4.cgi without a query is the form, the test files offered" {
	local out=$BATS_TEST_TMPDIR/seen q
	q="h1=127.0.0.2&p1=$SH1&f1=t1.txt&sh1=127.0.0.1&sp1=$SOCKS_PORT"
	q+="&h3=127.0.0.4&p3=$SH3&f3=t3.txt&sh3=127.0.0.1&sp3=$SOCKS_PORT"
	"$PYTHON" "$BATS_TEST_DIRNAME/hw4cgi_browser.py" form "$WEB/hw4.cgi" \
		"$q" \
		"$(mktemp -d "$BATS_FILE_TMPDIR/profile.XXXXXX")" >"$out" ||
		die "browser: $(cat "$out")"
	cat "$out" | sed 's/^/# /' >&3
	eval "$(cat "$out")"
	[ "$inputs" -eq 25 ]
	[ "${files[*]}" = "$(echo b{1..5}.txt t{1..5}.txt)" ]
	[ "$err_value" = 99999 ]
	[ "$err_invalid" = true ]
	[ "$err_text" = "a port must be a number from 1 to 65535" ]
	[ "$err_same_cell" -eq 1 ]
	(( err_below >= 0 && err_below < 20 )) ||
		die "the error is $err_below px below its field"
	[ "$err_sp2" = true ]
	[ "$err_h2" = 127.0.0.3 ]
	[ "$back" = "$q" ]
	# The static form is the CGI's, byte for byte.
	curl -sS --max-time 30 "$WEB/form_get2.htm" \
		>"$BATS_TEST_TMPDIR/static.htm"
	env -i HW4_TEST_DIR="$CGI_DIR/test_case" "$CGI" |
		sed -e '1,/^\r$/d' >"$BATS_TEST_TMPDIR/cgi.htm"
	cmp "$BATS_TEST_TMPDIR/static.htm" "$BATS_TEST_TMPDIR/cgi.htm" ||
		die "form_get2.htm is not hw4.cgi's form: make -C hw4cgi form"
}
