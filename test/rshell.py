#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A stand-in for the course's "ras/rwg" remote shell, for hw4.cgi.

One process per connection, the connection on stdin/stdout, as a
super-server runs it:

    systemd-socket-activate -a --inetd -l 127.0.0.2:7001 test/rshell.py
    tcpserver 127.0.0.2 7001 test/rshell.py

It prints a welcome banner and the "% " prompt, then answers one command a
line, always the same way:

    printenv VAR    the value of VAR (PATH is "bin:." to start with)
    setenv VAR VAL  set it
    ls              a fixed listing
    echo ARGS...    ARGS joined by one space
    cat FILE        one of the fixed files below, or an error line
    exit            close the connection
    anything else   "Unknown command: [NAME]."

Hostile output, for the CGI's escaping and limits:

    evil-html       <script>alert(1)</script> and other markup
    evil-utf8       invalid UTF-8, a cut sequence, control characters
    evil-big [N]    N bytes (default 1 MiB) of letters without a newline
    evil-wide [N]   N control bytes (default 1 MiB): each is the page's
                    widest escape of one byte

For the browser tests and the demo:

    lines N         N numbered lines of words (N at most 100000)
    wait-file PATH  wait until PATH (relative to --dir) exists (120 s at
                    most), then say so: a test holds a session mid-stream

Options: --pause SECS waits before every prompt after the first (to see
output stream); --line-pause SECS waits after every line it writes (the
demo's pace); --name NAME is shown in the banner; --dir DIR is where
wait-file looks.
"""
import argparse
import os
import sys
import time

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliett "
         "kilo lima mike november oscar papa quebec romeo sierra tango").split()

FILES = {
    "hello.txt": "Hello, world!\n",
    "test.html": "<html><body>test</body></html>\n",
    "poem.txt": "Roses are red,\nviolets are blue,\n"
                "sugar is sweet,\nand so are you.\n",
}
LISTING = ["bin", "hello.txt", "poem.txt", "test.html"]
SEED = [0]      # from --name: each shell's "lines" read differently


def answer(line, env, where="."):
    """The output for one command line, as bytes; None means exit."""
    words = line.split()
    if not words:
        return b""
    cmd, args = words[0], words[1:]
    if cmd == "exit":
        return None
    if cmd == "printenv" and len(args) == 1:
        return (env.get(args[0], "") + "\n").encode()
    if cmd == "setenv" and len(args) == 2:
        env[args[0]] = args[1]
        return b""
    if cmd == "ls":
        return "".join(n + "\n" for n in LISTING).encode()
    if cmd == "echo":
        return (" ".join(args) + "\n").encode()
    if cmd == "cat" and len(args) == 1:
        if args[0] in FILES:
            return FILES[args[0]].encode()
        return ("cat: %s: No such file or directory\n" % args[0]).encode()
    if cmd == "evil-html":
        return (b"<script>alert(1)</script>\n"
                b"<img src=x onerror=alert(2)> & \"quoted\" 'single' \\\n"
                b"</td></tr></table></script><!--\n")
    if cmd == "evil-utf8":
        return (b"bad: \xff\xfe \xc0\xaf \xed\xa0\x80 cut:\xe2\x82"
                b" ok: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7"
                b" ctl: \x00\x01\x1b[31m\x7f end\n")
    if cmd == "evil-big":
        n = int(args[0]) if args and args[0].isdigit() else 1 << 20
        return (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef" * (n // 32 + 1))[:n]
    if cmd == "evil-wide":
        n = int(args[0]) if args and args[0].isdigit() else 1 << 20
        return b"\x01" * n
    if cmd == "lines" and len(args) == 1 and args[0].isdigit():
        n = min(int(args[0]), 100000)
        return "".join("line %d: %s\n" % (i, " ".join(
            WORDS[(i + k * 7 + SEED[0]) % len(WORDS)]
            for k in range(3 + (i + SEED[0]) % 9)))
            for i in range(1, n + 1)).encode()
    if cmd == "wait-file" and len(args) == 1:
        for _ in range(2400):
            if os.path.exists(os.path.join(where, args[0])):
                return b"waited\n"
            time.sleep(0.05)
        return b"wait-file: gave up\n"
    return ("Unknown command: [%s].\n" % cmd).encode()


def paced(out, pause):
    """out, or a writer that waits after each line when pause is set."""
    if pause <= 0:
        return out.write

    def write(data):
        for line in data.splitlines(keepends=True):
            out.write(line)
            if line.endswith(b"\n"):
                out.flush()
                time.sleep(pause)
    return write


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--line-pause", type=float, default=0.0)
    ap.add_argument("--name", default="")
    ap.add_argument("--dir", default=".")
    opt = ap.parse_args()
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    write = paced(out, opt.line_pause)
    SEED[0] = sum(opt.name.encode()) * 3
    env = {"PATH": "bin:."}
    name = (" " + opt.name) if opt.name else ""
    write(b"****************************************\n"
              b"** Welcome to the information server%s. **\n"
              b"****************************************\n" % name.encode())
    first = True
    while True:
        if not first and opt.pause > 0:
            out.flush()
            time.sleep(opt.pause)
        first = False
        out.write(b"% ")
        out.flush()
        line = inp.readline()
        if not line:
            return
        reply = answer(line.decode("utf-8", "replace").strip("\r\n"), env,
                       opt.dir)
        if reply is None:
            return
        write(reply)


if __name__ == "__main__":
    try:
        main()
    except (BrokenPipeError, ConnectionResetError):
        pass
