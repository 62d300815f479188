# Helpers for test/hw4cgi.bats: the servers hw4.cgi talks to, lighttpd to
# run it, headless Chromium to load it, and a reader for its page.
# Load after test_helper (it needs TOP, PYTHON, free_port, wait_for_port).

CGI_DIR=$TOP/hw4cgi
CGI=$CGI_DIR/hw4.cgi
CGI_SAN=$CGI_DIR/hw4-san.cgi
# What the suites ask lighttpd for: HW4_CGI_NAME=hw4-san.cgi for the
# sanitizer build.
CGI_NAME=${HW4_CGI_NAME:-hw4.cgi}
RSHELL=$TOP/test/rshell.py
FAKE_SOCKS=$TOP/test/fake_socks.py

# spawn LOG CMD...: CMD in the background, output to LOG, PID recorded so
# that stop_spawned (teardown_file) stops exactly what this file started.
spawn() {
	local log=$1; shift
	"$@" >>"$log" 2>&1 3>&- &
	echo $! >>"$BATS_FILE_TMPDIR/pids"
}

stop_spawned() {
	local pid pids=$BATS_FILE_TMPDIR/pids
	[ -f "$pids" ] || return 0
	while read -r pid; do kill "$pid" 2>/dev/null; done <"$pids"
	while read -r pid; do wait "$pid" 2>/dev/null; done <"$pids"
	rm -f "$pids"
	return 0
}

# inetd_server ADDR CMD...: CMD once per connection on ADDR:a free port,
# the connection on stdin/stdout.  Sets SRV_PORT.
inetd_server() {
	local addr=$1; shift
	SRV_PORT=$(free_port)
	spawn "$BATS_FILE_TMPDIR/servers.log" \
		systemd-socket-activate -a --inetd -l "$addr:$SRV_PORT" "$@"
	wait_for_port "$addr" "$SRV_PORT"
}

# start_lighttpd TESTDIR TIMEOUT [ALLOW]: lighttpd with mod_cgi serving
# hw4cgi/ on 127.0.0.1, HW4_ALLOW set to ALLOW (default: loopback).
# Sets WEB (the base URL) and WEB_LOG (its error log).
start_lighttpd() {
	local port conf=$BATS_FILE_TMPDIR/lighttpd.conf
	port=$(free_port)
	WEB_LOG=$BATS_FILE_TMPDIR/lighttpd.log
	sed -e "s|@PORT@|$port|" -e "s|@DOCROOT@|$CGI_DIR|" \
	    -e "s|@ERRORLOG@|$WEB_LOG|" -e "s|@TESTDIR@|$1|" \
	    -e "s|@TIMEOUT@|$2|" -e "s|@ALLOW@|${3-127.0.0.0/8}|" \
	    "$CGI_DIR/lighttpd.conf.in" >"$conf"
	spawn "$BATS_FILE_TMPDIR/lighttpd.out" lighttpd -D -f "$conf"
	wait_for_port 127.0.0.1 "$port"
	WEB=http://127.0.0.1:$port
}

# chromium_dom URL: the DOM after the page has loaded (its scripts ran).
chromium_dom() {
	local profile
	profile=$(mktemp -d "$BATS_FILE_TMPDIR/chromium.XXXXXX")
	timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking \
		--disable-component-update --disable-sync \
		--user-data-dir="$profile" --dump-dom "$1" \
		2>>"$BATS_FILE_TMPDIR/chromium.log"
}

# column SRC FILE ROW MODE: one session's column of hw4.cgi's page.
#   SRC  page: the CGI's raw output (the pane is built by its <script>
#        chunks); dom: Chromium's DOM dump (the pane as the browser has it)
#   MODE text: as shown, <br> as a newline, markup dropped
#        shell: only what the shell sent (commands and notes left out)
#        cmds: the commands sent (shown in bold), one a line
#        notes: the CGI's own notes (errors, "connection closed")
column() {
	"$PYTHON" -c "$COLUMN_PY" "$@"
}

COLUMN_PY='
import html.parser, re, sys
src, path, row, mode = sys.argv[1:5]
doc = open(path, encoding="utf-8", errors="strict").read()
if src == "page":
    frag = "".join(re.sub(r"\\(.)", r"\1", m.group(1)) for m in
                   re.finditer(r"<script>a\(" + row + r",\"((?:[^\"\\]|\\.)*)\"\)</script>", doc))
    doc = "<div id=\"s" + row + "\">" + frag + "</div>"

class Column(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inside, self.tags, self.out, self.skip_br = False, [], [], False
    def handle_starttag(self, tag, attrs):
        if tag == "div" and ("id", "s" + row) in attrs:
            self.inside = True
        elif self.inside and tag == "br":
            if self.skip_br:
                self.skip_br = False
            elif not self.tags or mode == "text":
                self.out.append("\n")
        elif self.inside and tag in ("b", "div"):
            self.tags.append(tag)
    def handle_endtag(self, tag):
        if self.inside and tag == "div" and not self.tags:
            self.inside = False
        elif self.inside and tag in ("b", "div") and self.tags:
            self.tags.pop()
            self.skip_br = tag == "b" and mode != "text"
            if mode == "text" and tag == "div" or mode in ("cmds", "notes"):
                self.out.append("\n")
    def handle_data(self, data):
        if not self.inside:
            return
        self.skip_br = False
        t = self.tags[-1] if self.tags else None
        if (mode == "text" or (mode == "shell" and t is None) or
                (mode == "cmds" and t == "b") or (mode == "notes" and t == "div")):
            self.out.append(data)

p = Column()
p.feed(doc)
p.close()
out = "".join(p.out)
if mode in ("cmds", "notes"):
    out = "".join(l + "\n" for l in out.split("\n") if l)
sys.stdout.write(out)
'

# arrival_times URL: fetch with curl -N; print when (seconds from the
# start) the first session chunk arrived, when each command was shown, and
# when the page ended, as shell assignments.
arrival_times() {
	"$PYTHON" - "$1" <<'PY'
import re, subprocess, sys, time
t0 = time.monotonic()
curl = subprocess.Popen(["curl", "-sN", sys.argv[1]], stdout=subprocess.PIPE)
first = None
cmds = []
for line in curl.stdout:
    t = time.monotonic() - t0
    if first is None and line.startswith(b"<script>a("):
        first = t
    if b"<b>" in line:
        cmds.append("%.3f" % t)
end = time.monotonic() - t0
curl.wait()
print("first=%.3f end=%.3f cmds=(%s)" % (first if first is not None else -1, end, " ".join(cmds)))
PY
}

# is_page FILE: a whole hw4.cgi page (as the CGI printed it, or with
# curl's HTTP status line first): a text/html header, then HTML that ends.
is_page() {
	sed -e '/^\r\{0,1\}$/q' "$1" | grep -qi '^Content-Type: text/html' ||
		die "$1: no Content-Type: text/html header"
	[ "$(tail -n 1 "$1")" = "</body></html>" ] ||
		die "$1: does not end with </body></html>"
	grep -q '^<!DOCTYPE html>$' "$1" || die "$1: no doctype"
}

# run_cgi QUERY [ENV=VALUE...]: the ASan+UBSan build run directly, as a web
# server would, direct rows allowed to loopback unless ENV says otherwise;
# page in $CGI_OUT, stderr in $CGI_ERR, status in $CGI_STATUS.
run_cgi() {
	local q=$1; shift
	CGI_OUT=$BATS_TEST_TMPDIR/page.html
	CGI_ERR=$BATS_TEST_TMPDIR/stderr
	CGI_STATUS=0
	env QUERY_STRING="$q" REQUEST_METHOD=GET HW4_TEST_DIR="$TESTDIR" \
		HW4_ALLOW=127.0.0.0/8 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98 \
		"$@" timeout 60 "$CGI_SAN" >"$CGI_OUT" 2>"$CGI_ERR" || CGI_STATUS=$?
}

# cgi_clean: the direct run exited 0 with nothing on stderr (no sanitizer
# report) and printed a whole page.
cgi_clean() {
	[ "$CGI_STATUS" -eq 0 ] || die "hw4-san.cgi exited $CGI_STATUS: $(head -c 2000 "$CGI_ERR")"
	[ ! -s "$CGI_ERR" ] || die "hw4-san.cgi wrote to stderr: $(head -c 2000 "$CGI_ERR")"
	is_page "$CGI_OUT"
}
