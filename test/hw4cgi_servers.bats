#!/usr/bin/env bats
# hw4.cgi installed and served the three ways README's install section
# offers: lighttpd (hw4cgi/lighttpd-socks4d.conf), Apache with mod_cgid
# (hw4cgi/apache-socks4d.conf) and nginx with fcgiwrap
# (hw4cgi/nginx-socks4d.conf).  Each test copies its snippet with the
# install path changed, writes a main config around it in a scratch
# directory (loopback, a free port, pid and log files there), starts the
# server, fetches the form and result pages through it, and stops what it
# started by PID.
# SPDX-License-Identifier: ISC

load test_helper

setup_file() {
	local out
	out=$(make -s -C "$CGI_DIR" hw4.cgi 2>&1) || die "$out"
	[ -x "$SOCKS4D" ] || die "no $SOCKS4D: run make first"
	# Short (unix socket paths) and readable by the servers' own users
	# (Apache started as root runs its CGIs as nobody).
	SRV=$(mktemp -d /tmp/hw4srv.XXXXXX)
	chmod 755 "$SRV"
	echo "$SRV" >"$BATS_FILE_TMPDIR/srv"
	export SRV
	out=$(make -s -C "$CGI_DIR" install cgidir="$SRV/cgi" 2>&1) ||
		die "$out"
	mkdir -p "$SRV/www"

	inetd_server 127.0.0.2 "$PYTHON" "$RSHELL" --name s1
	export SH1=$SRV_PORT
	inetd_server 127.0.0.3 "$PYTHON" "$RSHELL" --name slow --pause 1
	export SLOW=$SRV_PORT
	start_open_socks4d
}

teardown_file() {
	stop_spawned
	rm -rf "$(cat "$BATS_FILE_TMPDIR/srv")"
}

teardown() {
	kill_pids ${SERVER_PIDS:-}
}

# snippet NAME: the shipped snippet with make install's path and its
# HW4_ALLOW (socks4d and shells on loopback) made ours.
snippet() {
	local allow="127.0.0.1:$SOCKS_PORT 127.0.0.2:$SH1 127.0.0.3:$SLOW"
	sed -e "s|/usr/local/lib/cgi-bin/socks4d|$SRV/cgi|g" \
		-e "s|127.0.0.1:1080 127.0.0.0/8:7000-7999|$allow|" \
		"$CGI_DIR/$1"
}

# start_server NAME CMD...: start a server (its PID kept for teardown), wait for
# it.
start_server() {
	local name=$1; shift
	"$@" >>"$SRV/$name.out" 2>&1 3>&- &
	SERVER_PIDS+=" $!"
	wait_for_port 127.0.0.1 "$PORT" || die "$name: $(tail -5 \
		"$SRV/$name.out" "$SRV/$name.err" 2>/dev/null)"
}

# fetch_all BASE [buffered]: the form (dynamic and static), a result page, a
# row HW4_ALLOW leaves out refused (the snippet's HW4_ALLOW reached the CGI),
# test_case/ closed, and the page streaming (unless the server buffers it:
# fcgiwrap does).
fetch_all() {
	local base=$1 t=$BATS_TEST_TMPDIR f first end cmds q
	curl -sS -i --max-time 30 -o "$t/form.html" "$base/socks4d/hw4.cgi"
	is_page "$t/form.html"
	grep -q '<form method="GET" action="hw4.cgi">' "$t/form.html"
	# The test files beside the installed CGI, found through
	# SCRIPT_FILENAME.
	for f in 1 2 3 4 5; do grep -qx "<option value=\"t$f.txt\">" \
		"$t/form.html"; done
	# The directory itself leads to the form.
	curl -sS -L --max-time 30 -o "$t/index.html" "$base/socks4d/"
	grep -q '<form method="GET" action="hw4.cgi">' "$t/index.html"
	curl -sS --fail --max-time 30 -D "$t/static.head" -o "$t/static.html" \
		"$base/socks4d/form_get2.htm"
	grep -qi '^Content-Type: text/html' "$t/static.head"
	grep -q '<form method="GET" action="hw4.cgi">' "$t/static.html"

	q="h1=127.0.0.2&p1=$SH1&f1=t1.txt&sh1=127.0.0.1&sp1=$SOCKS_PORT"
	q+="&h2=127.0.0.4&p2=$SH1&f2=t2.txt"
	curl -sSN -i --max-time 60 -o "$t/page.html" "$base/socks4d/hw4.cgi?$q"
	is_page "$t/page.html"
	[ "$(column page "$t/page.html" 1 cmds)" \
		= "$(cat "$CGI_DIR/test_case/t1.txt")" ]
	[ "$(column page "$t/page.html" 1 notes)" = "[connection closed]" ]
	[ "$(column page "$t/page.html" 2 notes)" \
		= "[host 127.0.0.4:$SH1 is not in HW4_ALLOW]" ]

	[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 \
		"$base/socks4d/test_case/t1.txt")" = 403 ]
	[ "$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 \
		"$base/socks4d/hw4.c")" = 404 ]

	# The page streams through the server: a shell pausing 1 s a prompt.
	q="h1=127.0.0.3&p1=$SLOW&f1=t1.txt&sh1=127.0.0.1&sp1=$SOCKS_PORT"
	eval "$(arrival_times "$base/socks4d/hw4.cgi?$q")"
	echo "# arrival: first chunk ${first}s, commands at ${cmds[*]}s," \
		"end ${end}s" >&3
	[ "${#cmds[@]}" -eq 4 ]
	[ "${2:-}" = buffered ] ||
		awk -v f="$first" -v e="$end" \
		'BEGIN { exit !(f >= 0 && e - f > 2.5) }' ||
		die "first $first end $end"
}

# a streamed result page
@test "lighttpd: the conf-available snippet serves the form and a result" {
	PORT=$(free_port)
	snippet lighttpd-socks4d.conf >"$SRV/50-socks4d.conf"
	{
		echo "server.document-root = \"$SRV/www\""
		echo "server.bind = \"127.0.0.1\""
		echo "server.port = $PORT"
		echo "server.pid-file = \"$SRV/lighttpd.pid\""
		echo "server.errorlog = \"$SRV/lighttpd.err\""
		# As Debian's lighttpd.conf has them, and its mod_cgi enabled
		# too.
		echo 'server.modules = ( "mod_indexfile", "mod_access",' \
			'"mod_alias", "mod_redirect" )'
		echo 'mimetype.assign = (' \
			'".htm" => "text/html; charset=utf-8",' \
			'".txt" => "text/plain" )'
		[ ! -f /etc/lighttpd/conf-available/10-cgi.conf ] ||
			echo \
			'include "/etc/lighttpd/conf-available/10-cgi.conf"'
		echo "include \"$SRV/50-socks4d.conf\""
	} >"$SRV/lighttpd.conf"
	lighttpd -tt -f "$SRV/lighttpd.conf" ||
		die "lighttpd rejects the configuration"
	start_server lighttpd lighttpd -D -f "$SRV/lighttpd.conf"
	fetch_all "http://127.0.0.1:$PORT"
}

# (ScriptAliasMatch) serves the form and a streamed result page
@test "Apache with mod_cgid: the conf-available snippet" {
	local m=/usr/lib/apache2/modules mod
	PORT=$(free_port)
	snippet apache-socks4d.conf >"$SRV/socks4d-apache.conf"
	{
		echo "ServerRoot \"$SRV\""
		echo "ServerName 127.0.0.1"
		echo "Listen 127.0.0.1:$PORT"
		echo "PidFile \"$SRV/apache.pid\""
		echo "ErrorLog \"$SRV/apache.err\""
		echo "DefaultRuntimeDir \"$SRV\""
		echo "ScriptSock \"$SRV/cgid.sock\""
		echo "Mutex file:$SRV default"
		for mod in mpm_event authz_core alias cgid env mime; do
			echo "LoadModule ${mod}_module $m/mod_$mod.so"
		done
		echo "TypesConfig /etc/mime.types"
		echo "AddDefaultCharset utf-8"
		echo "DocumentRoot \"$SRV/www\""
		# Apache started as root serves as another user.
		if [ "$(id -u)" = 0 ]; then echo "User nobody"; echo \
			"Group nogroup"; fi
		echo "Include \"$SRV/socks4d-apache.conf\""
	} >"$SRV/apache.conf"
	apache2 -t -f "$SRV/apache.conf" 2>&1 | grep -q 'Syntax OK' ||
		die "$(apache2 -t -f "$SRV/apache.conf" 2>&1)"
	start_server apache apache2 -f "$SRV/apache.conf" -DFOREGROUND
	fetch_all "http://127.0.0.1:$PORT"
}

# fcgiwrap 1.1.0 hands the page on in libfcgi's 8 KiB blocks, not as the
# CGI flushes (gnosek/fcgiwrap issue 36): the page is whole, not live.
@test "nginx with fcgiwrap: the snippet serves the form and a result page" {
	PORT=$(free_port)
	snippet nginx-socks4d.conf |
		sed -e "s|unix:/run/fcgiwrap.socket|unix:$SRV/fcgiwrap.sock|" \
		-e "s|include \(fastcgi_params;\)|include /etc/nginx/\1|" \
		>"$SRV/socks4d-nginx.conf"
	rm -f "$SRV/fcgiwrap.sock"
	fcgiwrap -c 1 -s "unix:$SRV/fcgiwrap.sock" </dev/null \
		>>"$SRV/fcgiwrap.out" 2>&1 3>&- &
	SERVER_PIDS+=" $!"
	mkdir -p "$SRV/nginx"
	cat >"$SRV/nginx.conf" <<CONF
daemon off;
master_process off;
pid $SRV/nginx.pid;
error_log $SRV/nginx.err;
events { worker_connections 64; }
http {
	include /etc/nginx/mime.types;
	access_log off;
	client_body_temp_path $SRV/nginx/body;
	fastcgi_temp_path $SRV/nginx/fastcgi;
	proxy_temp_path $SRV/nginx/proxy;
	uwsgi_temp_path $SRV/nginx/uwsgi;
	scgi_temp_path $SRV/nginx/scgi;
	server {
		listen 127.0.0.1:$PORT;
		root $SRV/www;
		include $SRV/socks4d-nginx.conf;
	}
}
CONF
	nginx -t -p "$SRV/nginx" -e "$SRV/nginx.err" -c "$SRV/nginx.conf" \
		2>"$SRV/nginx.t" || die "$(cat "$SRV/nginx.t")"
	start_server nginx nginx -p "$SRV/nginx" -e "$SRV/nginx.err" \
		-c "$SRV/nginx.conf"
	fetch_all "http://127.0.0.1:$PORT" buffered
}
