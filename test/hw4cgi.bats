#!/usr/bin/env bats
# hw4.cgi: lighttpd (mod_cgi) runs the real CGI; five stand-in shells
# (test/rshell.py) and socks4d run under systemd-socket-activate; curl -N
# and headless Chromium load the page.  The ASan+UBSan build is run
# directly for the hostile inputs, its exit status and stderr checked.
# HW4_CGI_NAME=hw4-san.cgi has lighttpd run that build too (its stderr,
# in lighttpd's log, is checked after each test).
# SPDX-License-Identifier: ISC

load test_helper

setup_file() {
	local i out conf=$BATS_FILE_TMPDIR

	out=$(make -s -C "$CGI_DIR" hw4.cgi hw4-san.cgi 2>&1) || die "$out"
	[ -z "$out" ] || die "make -C hw4cgi is not quiet: $out"
	[ -x "$SOCKS4D" ] || die "no $SOCKS4D: run make first"

	export TESTDIR=$BATS_FILE_TMPDIR/test_case
	mkdir -p "$TESTDIR"
	cp "$CGI_DIR"/test_case/t[1-5].txt "$TESTDIR/"
	printf 'evil-html\nevil-utf8\nevil-big\nexit\n' >"$TESTDIR/evil.txt"
	printf 'evil-html\nevil-utf8\nexit\n' >"$TESTDIR/evil-small.txt"
	printf 'echo one\necho two\nexit\n' >"$TESTDIR/slow.txt"
	printf 'evil-wide\nexit\n' >"$TESTDIR/wide.txt"
	printf 'evil-big\nexit\n' >"$TESTDIR/big.txt"
	ln -s /etc/passwd "$TESTDIR/link.txt"

	# Five shells on five loopback addresses, so socks.conf can tell them
	# apart.
	for i in 1 2 3 4 5; do
		inetd_server "127.0.0.$((i + 1))" "$PYTHON" "$RSHELL" \
			--name "s$i"
		export "SH$i=$SRV_PORT"
	done
	inetd_server 127.0.0.7 "$PYTHON" "$RSHELL" --name slow --pause 2
	export SLOW=$SRV_PORT
	# Anything that connects here is written down: HW4_ALLOW must stop it.
	inetd_server 127.0.0.8 /bin/sh \
		-c "echo connected >>$BATS_FILE_TMPDIR/hits"
	export HIT=$SRV_PORT

	printf 'permit c 127.0.0.0/8\n' >"$conf/open.conf"
	printf '%s\n' '# row 2 is behind the firewall' 'deny c 127.0.0.3' \
		'permit c 127.0.0.0/8' >"$conf/firewall.conf"
	SOCKS_LOG=$BATS_FILE_TMPDIR/firewall.log
	start_socks4d "$conf/firewall.conf"
	echo "$SOCKS_PID" >>"$BATS_FILE_TMPDIR/pids"
	export FW_PORT=$SOCKS_PORT FW_LOG=$SOCKS_LOG
	SOCKS_LOG=$BATS_FILE_TMPDIR/socks4d.log
	start_socks4d "$conf/open.conf"
	echo "$SOCKS_PID" >>"$BATS_FILE_TMPDIR/pids"
	export SOCKS_PORT SOCKS_LOG
	SOCKS_PID=

	for i in garbage short silent; do
		inetd_server 127.0.0.1 "$PYTHON" "$FAKE_SOCKS" "$i"
		export "FAKE_${i^^}=$SRV_PORT"
	done
	inetd_server 127.0.0.1 "$PYTHON" "$FAKE_SOCKS" record \
		"$BATS_FILE_TMPDIR/requests"
	export FAKE_RECORD=$SRV_PORT
	export DEAD_PORT=$(free_port)

	start_lighttpd "$TESTDIR" 5
	export WEB WEB_LOG
}

teardown_file() {
	stop_spawned
}

teardown() {
	no_sanitizer_reports "$WEB_LOG"
}

# query_five SOCKS_PORT [FILE]: the five rows, t1..t5 (or all FILE), all
# through one SOCKS server.
query_five() {
	local i q=
	for i in 1 2 3 4 5; do
		q+="${q:+&}h$i=127.0.0.$((i + 1))&p$i=$(eval echo "\$SH$i")"
		q+="&f$i=${2:-t$i.txt}&sh$i=127.0.0.1&sp$i=$1"
	done
	echo "$q"
}

# finals PAGE: how many panes the page ended in a final state.
finals() {
	local re='^<script>st([1-5],"\(closed\|error\)","[^"]*",[0-9]\+)'
	grep -c "$re</script>\$" "$1" || true
}

# check_session SRC FILE ROW [TEST SHELL]: the column holds every line of
# the test file (default tROW.txt) as a bold command, the exact output of
# the shell (default sROW) around them, and a normal end.
check_session() {
	local src=$1 page=$2 n=$3 tmp=$BATS_TEST_TMPDIR
	local test=$TESTDIR/${4:-t$n.txt} name=${5:-s$n}
	column "$src" "$page" "$n" cmds >"$tmp/cmds.$n"
	diff -u "$test" "$tmp/cmds.$n" || die "column $n: commands differ"
	"$PYTHON" "$RSHELL" --name "$name" <"$test" >"$tmp/want.$n"
	column "$src" "$page" "$n" shell >"$tmp/got.$n"
	diff -u "$tmp/want.$n" "$tmp/got.$n" || die "column $n: output differs"
	[ "$(column "$src" "$page" "$n" notes)" = "[connection closed]" ] ||
		die "column $n: notes: $(column "$src" "$page" "$n" notes)"
}

# connects LOG: how many CONNECT records socks4d has logged.
connects() {
	grep -c '<Command> :CONNECT' "$1" || true
}

# What a pane says when HW4_ALLOW is unset or cannot be read, after why.
HOW_TO_ALLOW="the server's administrator allows hosts with"
HOW_TO_ALLOW+=" HW4_ALLOW=ADDR[/BITS][:PORT[-PORT]] ..."

# no_hits: nothing has connected to the recorder (127.0.0.8:$HIT).
no_hits() {
	local hits=$BATS_FILE_TMPDIR/hits
	[ ! -e "$hits" ] || die "connected to the recorder: $(wc -l <"$hits")"
}

# panes_say PAGE NOTE...: pane 1's notes are the first NOTE, pane 2's the
# second, and so on; a NOTE "-" is not checked.
panes_say() {
	local page=$1 n=0 want; shift
	for want; do
		n=$((n + 1))
		[ "$want" = - ] ||
			[ "$(column page "$page" "$n" notes)" = "$want" ] ||
			die "pane $n: $(column page "$page" "$n" notes)"
	done
}

# each column holds its commands (bold) and the exact output
@test "lighttpd runs hw4.cgi: five shells through socks4d" {
	local n before page=$BATS_TEST_TMPDIR/curl.html st
	local via="^<div class=\"meta\">via SOCKS 127.0.0.1:$SOCKS_PORT</div>"
	before=$(connects "$SOCKS_LOG")
	curl -sSN -i --max-time 60 -o "$page" \
		"$WEB/$CGI_NAME?$(query_five "$SOCKS_PORT")"
	is_page "$page"
	for n in 1 2 3 4 5; do
		check_session page "$page" "$n"
		grep -q "<h2>127.0.0.$((n + 1)):$(eval echo "\$SH$n")</h2>" \
			"$page"
		grep -q "$via" "$page"
		grep -q "^<div class=\"meta\">test file t$n.txt</div>" "$page"
		st="^<script>st($n,"
		grep -q "$st\"running\",\"running\",-1)</script>$" "$page"
		grep -q "$st\"closed\",\"closed\",[0-9]*)</script>$" "$page"
	done
	# The bold commands really are <b> elements, right after the prompt.
	grep -qF 'a(1,"<b>printenv PATH<\/b><br>")' "$page"
	column page "$page" 1 text | grep -qx '% printenv PATH'
	column page "$page" 1 text | grep -qx 'bin:.'
	# socks4d logs each record when its session ends: wait for all five.
	for n in $(seq 100); do
		(( $(connects "$SOCKS_LOG") >= before + 5 )) && break
		sleep 0.05
	done
	[ "$(connects "$SOCKS_LOG")" -eq $((before + 5)) ]
	for n in 2 3 4 5 6; do grep -q "<D_IP> :127.0.0.$n\$" "$SOCKS_LOG"; done
}

# the first bytes arrive long before the end
@test "the page streams: with a shell pausing 2 s between prompts" {
	local first end cmds
	local q="h1=127.0.0.7&p1=$SLOW&f1=slow.txt&sh1=127.0.0.1"
	eval "$(arrival_times "$WEB/$CGI_NAME?$q&sp1=$SOCKS_PORT")"
	echo "# arrival: first session chunk ${first}s," \
		"commands at ${cmds[*]}s, end ${end}s" >&3
	[ "${#cmds[@]}" -eq 3 ]
	# The banner comes before the first pause ends; each later prompt 2 s
	# after the one before; the page ends after the last.  Buffered output
	# would bring everything at the end.
	awk -v f="$first" -v e="$end" -v c1="${cmds[0]}" -v c2="${cmds[1]}" \
		-v c3="${cmds[2]}" \
		'BEGIN { exit !(f >= 0 && f < 2.0 && e - f > 3.5 &&
			c2 - c1 > 1.5 && c3 - c2 > 1.5) }'
}

# SOCKS host and port, sent by GET to hw4.cgi
@test "chromium loads the form: five rows of host, port, test file" {
	local k i dom=$BATS_TEST_TMPDIR/form.dom
	chromium_dom "$WEB/form_get2.htm" >"$dom"
	grep -q '<form method="GET" action="hw4.cgi">' "$dom"
	for i in 1 2 3 4 5; do
		for k in h p f sh sp; do grep -q "name=\"$k$i\"" "$dom"; done
	done
	[ "$(grep -o '<input name=' "$dom" | wc -l)" -eq 25 ]
}

# each with its session's commands and output (the scripts ran)
@test "chromium loads hw4.cgi: the DOM holds five sessions' columns" {
	local n dom=$BATS_TEST_TMPDIR/cgi.dom
	chromium_dom "$WEB/$CGI_NAME?$(query_five "$SOCKS_PORT")" >"$dom"
	for n in 1 2 3 4 5; do check_session dom "$dom" "$n"; done
	grep -q 'id="s1" tabindex="0"><b>' "$dom" &&
		die "pane 1 starts with a command, not the banner"
	grep -q 'id="s3" tabindex="0">\*\*\*\*' "$dom"
	[ "$(grep -o 'data-state="closed"' "$dom" | wc -l)" -eq 5 ]
}

# that column says rejected by SOCKS server, the other four complete
@test "firewall: socks.conf denies row 2's host" {
	local n page=$BATS_TEST_TMPDIR/fw.html
	curl -sSN -i --max-time 60 -o "$page" \
		"$WEB/$CGI_NAME?$(query_five "$FW_PORT")"
	is_page "$page"
	[ "$(column page "$page" 2 notes)" \
		= "[rejected by SOCKS server (reply 91)]" ]
	[ -z "$(column page "$page" 2 shell)" ]
	for n in 1 3 4 5; do check_session page "$page" "$n"; done
	grep -q '<D_IP> :127.0.0.3$' "$FW_LOG"
}

# markup, invalid UTF-8 and 1 MiB without a newline
@test "hostile shell output is shown as text in a complete page" {
	local page=$BATS_TEST_TMPDIR/evil.html text=$BATS_TEST_TMPDIR/evil.txt q
	q="h1=127.0.0.2&p1=$SH1&f1=evil.txt&sh1=127.0.0.1&sp1=$SOCKS_PORT"
	q+="&h2=127.0.0.3&p2=$SH2&f2=evil-small.txt"
	curl -sSN -i --max-time 60 -o "$page" "$WEB/$CGI_NAME?$q"
	is_page "$page"
	# Nothing from the shell is markup: only the CGI's own chunks are
	# scripts.
	! grep -q '<script>alert\|<img\|<!--\|</td></tr></table></script>' \
		"$page" || die "matched, and should not have"
	! LC_ALL=C grep -q '[^[:print:][:space:]]' "$page" ||
		die "matched, and should not have"
	[ "$(grep -o '<script' "$page" | wc -l)" -eq $(( $(grep \
		-c '^<script>\(a\|st\)([12],"' "$page") + 1 )) ]
	column page "$page" 1 text >"$text"
	grep -qxF '<script>alert(1)</script>' "$text"
	grep -qxF "<img src=x onerror=alert(2)> & \"quoted\" 'single' \\" \
		"$text"
	grep -qxF '</td></tr></table></script><!--' "$text"
	local want="bad: $(printf '\uFFFD\uFFFD \uFFFD \uFFFD cut:\uFFFD')"
	want+=" ok: café € 🐧 ctl: $(printf '\uFFFD\uFFFD\uFFFD')[31m"
	want+="$(printf '\uFFFD') end"
	grep -qxF "$want" "$text"
	# The 1 MiB line, whole, then the prompt and the next command after it.
	"$PYTHON" -c 'import sys
big = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef" * 32768 + "% exit"
sys.exit(open(sys.argv[1], encoding="utf-8").read().split("\n")
         .count(big) != 1)' "$text"
	[ "$(column page "$page" 1 cmds)" = "$(cat "$TESTDIR/evil.txt")" ]
	[ "$(column page "$page" 1 notes)" = "[connection closed]" ]
	[ "$(column page "$page" 2 notes)" = "[connection closed]" ]
}

# no element is created from it
@test "hostile shell output in chromium: the markup stays text" {
	local dom=$BATS_TEST_TMPDIR/evil.dom
	local q="h1=127.0.0.2&p1=$SH1&f1=evil-small.txt&sh1=127.0.0.1"
	chromium_dom "$WEB/$CGI_NAME?$q&sp1=$SOCKS_PORT" >"$dom"
	grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$dom"
	grep -q '&lt;img src=x onerror=alert(2)&gt;' "$dom"
	! grep -q '<img' "$dom" || die "matched, and should not have"
	column dom "$dom" 1 text | grep -qxF '<script>alert(1)</script>'
	[ "$(column dom "$dom" 1 notes)" = "[connection closed]" ]
	grep -q 'id="s1" tabindex="0">' "$dom"
	grep -q '</div></section>' "$dom"
	grep -q 'data-state="closed"' "$dom"
}

# a symlink out and an unknown name too, each refused in its column
@test "test file names: ../../etc/passwd, /etc/passwd, .." {
	local q page=$BATS_TEST_TMPDIR/names.html
	local only=': names only, no / or ..]'
	q="h1=127.0.0.2&p1=$SH1&f1=../../etc/passwd&sh1=127.0.0.1"
	curl -sSN -i --max-time 60 -o "$page" \
		"$WEB/$CGI_NAME?$q&sp1=$SOCKS_PORT"
	is_page "$page"
	[ "$(column page "$page" 1 notes)" \
		= '[refused test file name "../../etc/passwd"'"$only" ]

	q="h1=127.0.0.2&p1=$SH1&f1=..%2F..%2Fetc%2Fpasswd"
	q+="&h2=127.0.0.2&p2=$SH1&f2=%2Fetc%2Fpasswd"
	q+="&h3=127.0.0.2&p3=$SH1&f3=..&h4=127.0.0.2&p4=$SH1&f4=link.txt"
	q+="&h5=127.0.0.2&p5=$SH1&f5=nosuch.txt"
	run_cgi "$q"
	cgi_clean
	[ "$(column page "$CGI_OUT" 1 notes)" \
		= '[refused test file name "../../etc/passwd"'"$only" ]
	[ "$(column page "$CGI_OUT" 2 notes)" \
		= '[refused test file name "/etc/passwd"'"$only" ]
	[ "$(column page "$CGI_OUT" 3 notes)" \
		= '[refused test file name "..": names only, no / or ..]' ]
	column page "$CGI_OUT" 4 notes |
		grep -q '^\[cannot open test file "link.txt": '
	[ "$(column page "$CGI_OUT" 5 notes)" \
		= '[unknown test file "nosuch.txt"]' ]
	! grep -q 'root:' "$CGI_OUT" "$page" ||
		die "matched, and should not have"
}

# good rows still run, the page is whole (ASan+UBSan)
@test "malformed and oversize query strings: bad rows are left out" {
	local q long huge want
	long=$(printf 'a%.0s' $(seq 300))
	huge=$("$PYTHON" -c 'print("h1=x&zz=" + "%41" * 33000 + "&" * 1000)')
	for q in '' '%' '&&&==&' '=' 'h1' 'h1=' 'h1=%' 'h1=%4' \
		'h1=%G1&p1=1&f1=t1.txt' \
		'h1=%00&p1=1&f1=t1.txt' 'h1=a%2' 'h6=x&p0=1&hh1=x&H1=x' \
		'p1=-1' 'p1=0x10&h1=a&f1=t' \
		"h1=$long&p1=1&f1=t1.txt" "f1=$long&h1=a&p1=1" \
		'h1=a&p1=1&f1=t1.txt&sh1=b' \
		'h1=%3Cscript%3E&p1=1&f1=t1.txt' "$huge" \
		'h1=a+b&p1=65536&f1=t1.txt'; do
		run_cgi "$q"
		cgi_clean || die "query '${q:0:80}'"
		! grep -q 'id="s1"' "$CGI_OUT" ||
			die "query '${q:0:80}' kept row 1"
	done
	run_cgi 'h1=%3Cscript%3E&p1=1&f1=t1.txt'
	want='<p class="err">Session 1 left out: a host name has a character'
	grep -qx "$want hosts do not have.</p>" "$CGI_OUT"
	# QUERY_STRING unset: the form.
	env -u QUERY_STRING HW4_TEST_DIR="$TESTDIR" "$CGI_SAN" \
		>"$BATS_TEST_TMPDIR/none.html"
	grep -q '<form method="GET" action="hw4.cgi">' \
		"$BATS_TEST_TMPDIR/none.html"
	# Rows 1 and 3 are bad; rows 2 and 4 run as if they were alone.
	q="h1=127.0.0.2&p1=99999&f1=t1.txt&h2=127.0.0.3&p2=$SH2&f2=t2.txt"
	q+="&h3=x%&p3=1&f3=t3.txt&h4=127.0.0.5&p4=$SH4&f4=t4.txt"
	q+="&sh4=127.0.0.1&sp4=$SOCKS_PORT&junk=%%%"
	run_cgi "$q"
	cgi_clean
	want='<p class="err">Session 1 left out: a port must be a number'
	grep -qx "$want from 1 to 65535.</p>" "$CGI_OUT"
	want='<p class="err">Session 3 left out: a value is malformed'
	grep -qx "$want or too long.</p>" "$CGI_OUT"
	check_session page "$CGI_OUT" 2
	check_session page "$CGI_OUT" 4
	# A long query through lighttpd too.
	q="h1=$long$long$long&p1=1&f1=t1.txt&h2=127.0.0.3&p2=$SH2&f2=t2.txt"
	curl -sSN -i --max-time 60 -o "$BATS_TEST_TMPDIR/long.html" \
		"$WEB/$CGI_NAME?$q"
	is_page "$BATS_TEST_TMPDIR/long.html"
	check_session page "$BATS_TEST_TMPDIR/long.html" 2
}

# refused (ASan+UBSan, 2 s deadline)
@test "broken SOCKS servers and dead ports: garbage, a cut reply, silence" {
	local q
	q="h1=127.0.0.2&p1=$SH1&f1=t1.txt&sh1=127.0.0.1&sp1=$FAKE_GARBAGE"
	q+="&h2=127.0.0.2&p2=$SH1&f2=t1.txt&sh2=127.0.0.1&sp2=$FAKE_SHORT"
	q+="&h3=127.0.0.2&p3=$SH1&f3=t1.txt&sh3=127.0.0.1&sp3=$FAKE_SILENT"
	q+="&h4=127.0.0.2&p4=$SH1&f4=t1.txt&sh4=127.0.0.1&sp4=$DEAD_PORT"
	q+="&h5=127.0.0.2&p5=$DEAD_PORT&f5=t1.txt"
	SECONDS=0
	run_cgi "$q" HW4_TIMEOUT=2
	cgi_clean
	(( SECONDS >= 1 && SECONDS <= 10 ))
	[ "$(column page "$CGI_OUT" 1 notes)" \
		= "[bad SOCKS reply (not a SOCKS4 server?)]" ]
	[ "$(column page "$CGI_OUT" 2 notes)" \
		= "[SOCKS server closed the connection without a reply]" ]
	[ "$(column page "$CGI_OUT" 3 notes)" \
		= "[timeout: nothing from the SOCKS server for 2 s]" ]
	local dead="127.0.0.1:$DEAD_PORT unreachable: Connection refused]"
	[ "$(column page "$CGI_OUT" 4 notes)" = "[SOCKS server $dead" ]
	[ "$(column page "$CGI_OUT" 5 notes)" \
		= \
		"[host 127.0.0.2:$DEAD_PORT unreachable: Connection refused]" ]
	! grep -q 'HTTP/1.0' "$CGI_OUT" || die "matched, and should not have"
}

# the page still closes
@test "a shell that falls silent is dropped at the deadline" {
	local q="h1=127.0.0.1&p1=$FAKE_SILENT&f1=t1.txt&h2=127.0.0.2&p2=$SH1"
	SECONDS=0
	run_cgi "$q&f2=t1.txt" HW4_TIMEOUT=1
	cgi_clean
	(( SECONDS <= 5 ))
	[ "$(column page "$CGI_OUT" 1 notes)" \
		= "[timeout: nothing from the shell for 1 s]" ]
	[ -z "$(column page "$CGI_OUT" 1 cmds)" ]
	check_session page "$CGI_OUT" 2 t1.txt s1
}

# (0.0.0.1 and the name) when it does not
@test "SOCKS4 when the host resolves here, SOCKS4a" {
	local q port
	rm -f "$BATS_FILE_TMPDIR/requests"
	q="h1=127.0.0.2&p1=$SH1&f1=t1.txt&sh1=127.0.0.1&sp1=$FAKE_RECORD"
	q+="&h2=no-such-host.invalid&p2=7000&f2=t1.txt"
	q+="&sh2=127.0.0.1&sp2=$FAKE_RECORD"
	# HW4_ALLOW names the host the SOCKS server is to resolve.
	run_cgi "$q" HW4_ALLOW="127.0.0.0/8 no-such-host.invalid:7000"
	cgi_clean
	[ "$(column page "$CGI_OUT" 1 notes)" \
		= "[rejected by SOCKS server (reply 91)]" ]
	[ "$(column page "$CGI_OUT" 2 notes)" \
		= "[rejected by SOCKS server (reply 91)]" ]
	port=$(hex4 "$SH1")
	grep -qx "0401${port}7f00000200" "$BATS_FILE_TMPDIR/requests"
	grep -qx "04011b580000000100$(hex no-such-host.invalid)00" \
		"$BATS_FILE_TMPDIR/requests"
}

@test "the ASan+UBSan build drives five shells through socks4d cleanly" {
	local n
	run_cgi "$(query_five "$SOCKS_PORT")"
	cgi_clean
	for n in 1 2 3 4 5; do check_session page "$CGI_OUT" "$n"; done
	run_cgi "h1=127.0.0.2&p1=$SH1&f1=evil.txt&sh1=127.0.0.1&sp1=$SOCKS_PORT"
	cgi_clean
	[ "$(column page "$CGI_OUT" 1 cmds)" = "$(cat "$TESTDIR/evil.txt")" ]
}

# five shells send 1 MiB of the widest escape each (HW4_MAX_OUTPUT=200000);
# every pane says where it was cut
@test "output budget (ASan+UBSan): HW4_MAX_OUTPUT bounds the page" {
	local n note sum=0 re
	run_cgi "$(query_five "$SOCKS_PORT" wide.txt)" HW4_MAX_OUTPUT=200000
	cgi_clean
	echo "# page: $(stat -c %s "$CGI_OUT") bytes" \
		"for 5 MiB of shell output" >&3
	(( $(stat -c %s "$CGI_OUT") < 200000 + 30000 )) ||
		die "page is $(stat -c %s "$CGI_OUT") bytes"
	for n in 1 2 3 4 5; do
		note=$(column page "$CGI_OUT" "$n" notes)
		re='^\[output truncated at ([0-9]+) bytes '
		re+='\(HW4_MAX_OUTPUT 200000 for the page\)\]$'
		[[ $note =~ $re ]] || die "pane $n: $note"
		sum=$((sum + BASH_REMATCH[1]))
	done
	# Each control byte is 8 page bytes (&#xFFFD;), each banner byte one (at
	# most 140 a pane): the budget, nearly all used and no more.
	(( sum <= 200000 / 8 + 5 * 140 )) || die "shown $sum bytes"
	(( sum > 190000 / 8 )) || die "shown $sum bytes"
	local cut='^<script>st([1-5],"closed","closed: output truncated",'
	[ "$(grep -c "$cut"'[0-9]\+)</script>$' "$CGI_OUT")" -eq 5 ]
	[ "$(finals "$CGI_OUT")" -eq 5 ]
}

# five 1 MiB lines against the default 4 MiB; every pane ends
@test "output budget through lighttpd: the page stays under the default" {
	local page=$BATS_TEST_TMPDIR/big.html
	curl -sSN -i --max-time 60 -o "$page" \
		"$WEB/$CGI_NAME?$(query_five "$SOCKS_PORT" big.txt)"
	is_page "$page"
	echo "# page: $(stat -c %s "$page") bytes" >&3
	(( $(stat -c %s "$page") < 4 * 1048576 + 65536 )) ||
		die "page is $(stat -c %s "$page") bytes"
	local cut='^<script>a([1-5],"<div class=.err.>\[output truncated at'
	grep -q "$cut"' [0-9]* bytes (HW4_MAX_OUTPUT 4194304 for the page)\]' \
		"$page"
	[ "$(finals "$page")" -eq 5 ]
}

# hw4.cgi goes direct or through a SOCKS server: the form says what it is,
# and form_get2.htm is that form (make -C hw4cgi form)
@test "the form's title and heading: remote shells, direct or through SOCKS" {
	local form=$BATS_TEST_TMPDIR/form.html title
	title='remote shells, direct or through SOCKS'
	run_cgi ''
	cgi_clean
	sed -e '1,/^\r$/d' "$CGI_OUT" >"$form"
	grep -qx "<title>hw4.cgi: $title</title>" "$form"
	grep -qF "<h1>R${title:1}</h1>" "$form"
	run ! grep -E '<(title|h1)>[^<]*SOCKS4' "$form"
	# form_get2.htm is this form, as make -C hw4cgi form writes it
	(cd "$CGI_DIR" && env -i HW4_TEST_DIR=test_case QUERY_STRING= \
		./hw4.cgi) | sed -e '1,/^\r$/d' | cmp - "$CGI_DIR/form_get2.htm"
}

# direct or through SOCKS; nothing is connected to; each pane says it once
@test "HW4_ALLOW unset or empty: no row runs, each pane says how to allow" {
	local q n allow page=$BATS_TEST_TMPDIR/noallow.html
	local why="[HW4_ALLOW is not set: $HOW_TO_ALLOW]"
	rm -f "$BATS_FILE_TMPDIR/hits"
	# The recorder as row 1's shell and as row 2's SOCKS server.
	q="h1=127.0.0.8&p1=$HIT&f1=t1.txt"
	q+="&h2=127.0.0.3&p2=$SH2&f2=t2.txt&sh2=127.0.0.8&sp2=$HIT"
	env -u HW4_ALLOW QUERY_STRING="$q" HW4_TEST_DIR="$TESTDIR" "$CGI_SAN" \
		>"$page"
	no_hits
	is_page "$page"
	panes_say "$page" "$why" "$why"
	for n in 1 2; do
		grep -qx "<script>st($n,\"error\",\"error\",[0-9]*)</script>" \
			"$page"
	done
	# Said once a pane, in its note: the state says "error" alone.
	[ "$(grep -c 'HW4_ALLOW is not set' "$page")" -eq 2 ]
	! grep -q 'left out' "$page" || die "matched, and should not have"
	for allow in '' ' , '; do
		run_cgi "$q" HW4_ALLOW="$allow"
		cgi_clean
		no_hits
		panes_say "$CGI_OUT" "$why" "$why"
	done
	# A web server that sets no HW4_ALLOW: the same.
	start_lighttpd "$TESTDIR" 5 ""
	curl -sSN -i --max-time 60 -o "$page" "$WEB/$CGI_NAME?$q"
	no_hits
	is_page "$page"
	panes_say "$page" "$why" "$why"
}

# the host as asked of it (by address, or by name for SOCKS4a); else the
# SOCKS server is not connected to
@test "HW4_ALLOW through SOCKS: the SOCKS server and the host must be in it" {
	local q allow hits=$BATS_FILE_TMPDIR/hits
	rm -f "$hits"
	# The recorder as the SOCKS server of both rows.
	q="h1=127.0.0.2&p1=$SH1&f1=t1.txt&sh1=127.0.0.8&sp1=$HIT"
	q+="&h2=no-such-host.invalid&p2=7000&f2=t1.txt&sh2=127.0.0.8&sp2=$HIT"
	# The hosts, not the SOCKS server.
	run_cgi "$q" HW4_ALLOW="127.0.0.2:$SH1 no-such-host.invalid:7000"
	no_hits
	cgi_clean
	panes_say "$CGI_OUT" \
		"[SOCKS server 127.0.0.8:$HIT is not in HW4_ALLOW]" \
		"[SOCKS server 127.0.0.8:$HIT is not in HW4_ALLOW]"
	# The SOCKS server, not the hosts: other ports, another name.
	allow="127.0.0.8:$HIT 127.0.0.2:1-$((SH1 - 1)),"
	allow+=" no-such-host.example:7000 127.0.0.0/8:$((SH1 + 1))-65535"
	run_cgi "$q" HW4_ALLOW="$allow"
	no_hits
	cgi_clean
	panes_say "$CGI_OUT" "[host 127.0.0.2:$SH1 is not in HW4_ALLOW]" \
		"[host no-such-host.invalid:7000 is not in HW4_ALLOW]"
	# Both (a name in any case): the recorder sees each row, once (it
	# closes at once: no reply).
	allow="127.0.0.8:$HIT 127.0.0.2:$SH1 NO-SUCH-HOST.invalid"
	run_cgi "$q" HW4_ALLOW="$allow"
	cgi_clean
	[ "$(wc -l <"$hits")" -eq 2 ]
	! grep -q 'HW4_ALLOW' "$CGI_OUT" || die "matched, and should not have"
}

# for a SOCKS server or a host HW4_ALLOW leaves out, its name resolving or not
@test "no port scanner: one refusal for open and closed ports alike" {
	local q why="[HW4_ALLOW is not set: $HOW_TO_ALLOW]"
	q="h1=127.0.0.2&p1=$SH1&f1=t1.txt&sh1=127.0.0.1&sp1=$SOCKS_PORT"
	q+="&h2=127.0.0.2&p2=$SH1&f2=t1.txt&sh2=127.0.0.1&sp2=$DEAD_PORT"
	q+="&h3=127.0.0.2&p3=$SH1&f3=t1.txt"
	q+="&h4=127.0.0.2&p4=$DEAD_PORT&f4=t1.txt"
	q+="&h5=no-such-host.invalid&p5=$SH1&f5=t1.txt"
	run_cgi "$q" HW4_ALLOW=
	cgi_clean
	panes_say "$CGI_OUT" "$why" "$why" "$why" "$why" "$why"
	# HW4_ALLOW naming another host: the same words, the port as given.
	run_cgi "$q" HW4_ALLOW=192.0.2.1
	cgi_clean
	panes_say "$CGI_OUT" \
		"[SOCKS server 127.0.0.1:$SOCKS_PORT is not in HW4_ALLOW]" \
		"[SOCKS server 127.0.0.1:$DEAD_PORT is not in HW4_ALLOW]" \
		"[host 127.0.0.2:$SH1 is not in HW4_ALLOW]" \
		"[host 127.0.0.2:$DEAD_PORT is not in HW4_ALLOW]" \
		"[host no-such-host.invalid:$SH1 is not in HW4_ALLOW]"
}

# on the address connected to; a list it cannot read refuses them all
@test "HW4_ALLOW: CIDRs and ports decide direct rows" {
	local q a allow
	rm -f "$BATS_FILE_TMPDIR/hits"
	q="h1=127.0.0.2&p1=$SH1&f1=t1.txt&h2=127.0.0.3&p2=$SH2&f2=t2.txt"
	q+="&h3=127.0.0.8&p3=$HIT&f3=t3.txt&h4=localhost&p4=$HIT&f4=t4.txt"
	allow="127.0.0.2/32:$SH1, 10.0.0.0/8"
	run_cgi "$q" HW4_ALLOW="$allow 127.0.0.8:1-$((HIT - 1))"
	cgi_clean
	check_session page "$CGI_OUT" 1
	panes_say "$CGI_OUT" - "[host 127.0.0.3:$SH2 is not in HW4_ALLOW]" \
		"[host 127.0.0.8:$HIT is not in HW4_ALLOW]" \
		"[host localhost:$HIT is not in HW4_ALLOW]"
	# A /30 and a port range let row 2 in; 127.0.0.8 is still out.
	allow="127.0.0.0/30:$SH2-$SH2 127.0.0.2:1-65535"
	run_cgi "$q" HW4_ALLOW="$allow 127.0.0.1/32:1-$((HIT - 1))"
	cgi_clean
	check_session page "$CGI_OUT" 1
	check_session page "$CGI_OUT" 2
	panes_say "$CGI_OUT" - - "[host 127.0.0.8:$HIT is not in HW4_ALLOW]"
	for a in 127.0.0.0/33 127.0.0.1:0 "127.0.0.1:9-8" '*.example.org' \
		127.0.0.1/8x "127.0.0.1:" 127.0.0.1:65536 \
		"/8" "127.0.0.1:-5" "$(printf '127.0.0.1/32 %.0s' $(seq 70))"; \
		do
		run_cgi "$q" HW4_ALLOW="127.0.0.0/8 $a"
		cgi_clean
		[ "$(column page "$CGI_OUT" 1 notes)" \
			= "[HW4_ALLOW cannot be read: $HOW_TO_ALLOW]" ] ||
			die "HW4_ALLOW '127.0.0.0/8 ${a:0:40}':" \
				"$(column page "$CGI_OUT" 1 notes)"
	done
	[ ! -e "$BATS_FILE_TMPDIR/hits" ] ||
		die "a direct row connected where HW4_ALLOW does not reach"
}

# chromium ends every unfinished pane in an error
@test "a page cut off while its sessions run (the CGI killed)" {
	local out=$BATS_TEST_TMPDIR/cut.out page=$BATS_TEST_TMPDIR/cut.html \
		dom=$BATS_TEST_TMPDIR/cut.dom pid tries=400 q want
	q="h1=127.0.0.1&p1=$FAKE_SILENT&f1=t1.txt"
	env QUERY_STRING="$q&h2=127.0.0.2&p2=$SH1&f2=t1.txt" \
		HW4_TEST_DIR="$TESTDIR" HW4_ALLOW=127.0.0.0/8 HW4_TIMEOUT=60 \
		"$CGI" >"$out" 2>/dev/null 3>&- &
	pid=$!
	# Pane 1 is running (its shell says nothing) and pane 2 has ended.
	until grep -q '^<script>st(1,"running"' "$out" &&
		grep -q '^<script>st(2,"closed"' "$out"; do
		(( tries-- > 0 )) ||
			{ kill_pids "$pid"; die \
			"the CGI did not get there: $(tail -3 "$out")"; }
		sleep 0.05
	done
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	sed -e '1,/^\r$/d' "$out" >"$page"
	chromium_dom "file://$page" >"$dom"
	want='<span class="state error" id="st1" data-state="error">'
	grep -q "${want}error: the page ended first</span>" "$dom"
	want='<span class="state closed" id="st2" data-state="closed">'
	grep -q "${want}closed</span>" "$dom"
}
