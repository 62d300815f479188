#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Run a table of raw SOCKS4 client scripts against socks4d running under
systemd-socket-activate, and check every one of them.

usage: hostile_probe.py --port PORT --log LOG [--jobs N] [--var NAME=HEX]... \
TABLE

TABLE has one case a line, fields separated by " | ", "#" starts a comment;
a line starting with "| " goes on with the case above:

  label | steps | reply | end | exit | reason | ms

steps   what the client does, in order, space-separated:
          x:BYTES      send BYTES (reading what comes meanwhile)
          t:SECS:BYTES send BYTES one byte at a time, SECS apart
          shut         shutdown(SHUT_WR): a half-close
          close        close(): FIN, the client is gone
          rst          close() with SO_LINGER 0: RST, the client is gone
                       (both first wait until socks4d runs for this
                       connection and has blocked, as it does only once it
                       knows the client's address: a reset before that
                       would test the super-server or leave socks4d no
                       address to name the client by in its record)
          read:N:SECS  read until N bytes in all have come (at most SECS)
          wait:SECS    read for SECS
        then, unless the client closed, it reads until the end.
BYTES   parts joined by "+": hex digits; 'text' (ASCII, no blanks); HH*N
        (byte HH N times); $NAME (a --var, letters only).
reply   what must have come back, as the same parts (hex of it), where
        ~REGEX is a regular expression over lowercase hex; "-": nothing.
end     how the connection ended: eof, rst, eof/rst, or us (client closed)
exit    socks4d's expected exit status: 0, 1 or 0/1
reason  text that must be in socks4d's log for this connection (its lines
        and its record); ~REGEX for a regular expression; "-": no check
ms      LO-HI: when the connection ended (eof, rst), or for "us" when
        socks4d died, in ms after connect

A connection is tied to its socks4d by systemd-socket-activate's lines
"Connection from 127.0.0.1:SPORT" and "Spawned ... as PID N.", and its exit
status is its "Child N died with code C" line. Exit 0 when all cases pass.
"""
import argparse
import os
import re
import select
import socket
import struct
import sys
import threading
import time

SANITIZER = re.compile(r"runtime error|AddressSanitizer|LeakSanitizer"
                       r"|UndefinedBehaviorSanitizer")


class Log:
    """Follows the super-server's log and indexes it by connection."""

    def __init__(self, path):
        self.path = path
        self.off = os.path.getsize(path)
        self.partial = b""
        self.seq = 0
        self.pending = None
        self.spawn = {}		# sport -> (seq of its connection line, pid)
        # (a port may serve two cases of one table: a connection is its
        # port and a connection line after its client began, "since")
        self.deaths = {}	# pid -> [(seq, code, time)]
        self.lines = {}		# pid -> [text]
        self.records = {}	# sport -> (seq, record text)
        self.rec = None
        self.sanitizer = []
        self.cv = threading.Condition()
        self.stop = False
        threading.Thread(target=self.follow, daemon=True).start()

    def follow(self):
        while not self.stop:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
            if data:
                self.off += len(data)
                data = self.partial + data
                *full, self.partial = data.split(b"\n")
                with self.cv:
                    for raw in full:
                        self.line(raw.decode("utf-8", "replace"))
                    self.cv.notify_all()
            time.sleep(0.02)

    def line(self, ln):
        self.seq += 1
        if SANITIZER.search(ln):
            self.sanitizer.append(ln)
        m = re.match(r"Connection from 127\.0\.0\.1:(\d+) to ", ln)
        if m:
            self.pending = (int(m.group(1)), self.seq)
            return
        # A quick child can die (and be logged) before its "Spawned" line:
        # its death is matched from the "Connection from" line on.
        m = re.match(r"Spawned .* as PID (\d+)\.$", ln)
        if m and self.pending is not None:
            self.spawn[self.pending[0]] = (self.pending[1], int(m.group(1)))
            self.pending = None
            return
        m = re.match(r"Child (\d+) died with code (-?\d+)", ln)
        if m:
            self.deaths.setdefault(int(m.group(1)), []).append(
                (self.seq, int(m.group(2)), time.monotonic()))
            return
        m = re.match(r"socks4d\[(\d+)\]: (.*)", ln)
        if m:
            self.lines.setdefault(int(m.group(1)), []).append(m.group(2))
            return
        if ln.startswith("<S_IP> :"):
            self.rec = [ln]
        elif self.rec is not None:
            self.rec.append(ln)
            if ln.startswith("<Content> :"):
                m = re.search(r"^<S_PORT> :(\d+)$", "\n".join(self.rec), re.M)
                if m:
                    self.records[int(m.group(1))] = (self.seq,
                                                     "\n".join(self.rec))
                self.rec = None

    def wait(self, pred, secs):
        with self.cv:
            return self.cv.wait_for(pred, timeout=secs)

    def _spawned(self, sport, since):
        seq, pid = self.spawn.get(sport, (0, None))
        return pid if seq > since else None

    def pid_of(self, sport, since, secs=10):
        if not self.wait(lambda: self._spawned(sport, since), secs):
            return None
        return self._spawned(sport, since)

    def death_of(self, sport, since, secs):
        """(code, monotonic time) of the socks4d that served sport."""
        def find():
            if self._spawned(sport, since) is None:
                return None
            seq, pid = self.spawn[sport]
            for d in self.deaths.get(pid, []):
                if d[0] > seq:
                    return d[1:]
            return None
        self.wait(lambda: find() is not None, secs)
        return find()

    def text_of(self, sport, since):
        with self.cv:
            pid = self._spawned(sport, since)
            seq, rec = self.records.get(sport, (0, ""))
            return "\n".join(self.lines.get(pid, [])
                             + [rec if seq > since else ""])


def parse_bytes(expr, var):
    out = b""
    for part in expr.split("+"):
        if part == "":
            continue
        if part.startswith("'") and part.endswith("'") and len(part) >= 2:
            out += part[1:-1].encode()
        elif part.startswith("$"):
            out += bytes.fromhex(var[part[1:]])
        elif "*" in part:
            h, n = part.split("*")
            out += bytes.fromhex(h) * int(n)
        else:
            out += bytes.fromhex(part)
    return out


def reply_regex(expr, var):
    if expr == "-":
        return re.compile("")
    rx = ""
    for part in expr.split("+"):
        if part.startswith("~"):
            rx += re.sub(r"\$([A-Za-z_]+)", lambda m: var[m.group(1)], part[1:])
        else:
            rx += re.escape(parse_bytes(part, var).hex())
    return re.compile(rx)


class Client:
    """One raw connection: sends while reading, notes how it ended."""

    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=5)
        self.t0 = time.monotonic()
        self.sport = self.s.getsockname()[1]
        self.s.setblocking(False)
        self.got = bytearray()
        self.end = None
        self.t_end = None
        self.send_failed = False

    def _ended(self, how):
        if self.end is None:
            self.end, self.t_end = how, time.monotonic()

    def pump(self, out=b"", until=None, deadline=None):
        """Send out while reading; then read until until() or the deadline."""
        view = memoryview(out)
        while True:
            if self.end is not None:
                return
            if not view and (until is None or until()):
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            w = [self.s] if view and not self.send_failed else []
            r, w, _ = select.select([self.s], w, [], left)
            if r:
                try:
                    b = self.s.recv(65536)
                    if b:
                        self.got += b
                    else:
                        self._ended("eof")
                except ConnectionResetError:
                    self._ended("rst")
                except BlockingIOError:
                    pass
            if w:
                try:
                    view = view[self.s.send(view[:65536]):]
                except BlockingIOError:
                    pass
                except OSError:
                    self.send_failed = True
            if view and self.send_failed:
                view = view[:0]

    def close(self, abort):
        if abort:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
        self.s.close()
        self._ended("us")


def settled(pid, secs=5):
    """Until process pid is socks4d (exec'd: its name begins so) and
    sleeping (state S), or has ended, or secs have passed.  socks4d's first
    sleep is its wait for the request, after it has asked for the
    client's address (getpeername)."""
    end = time.monotonic() + secs
    while pid is not None and time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            return
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        if state in "ZX" or (name.startswith("socks4d") and state == "S"):
            return
        time.sleep(0.005)


slowest = [0]


def note_time(ms):
    slowest[0] = max(slowest[0], ms)


def run_case(case, args, var, log):
    label, steps, reply, end, exitc, reason, ms = case
    lo, hi = (int(x) for x in ms.split("-"))
    problems = []
    try:
        with log.cv:
            since = log.seq
        c = Client("127.0.0.1", args.port)
        c.since = since
    except OSError as e:
        return "not ok %s: connect: %s" % (label, e)
    for step in steps.split():
        if c.end is not None:
            break
        kind, _, arg = step.partition(":")
        if kind == "x":
            c.pump(parse_bytes(arg, var), deadline=time.monotonic() + 30)
        elif kind == "t":
            secs, _, expr = arg.partition(":")
            for b in parse_bytes(expr, var):
                c.pump(bytes([b]), deadline=time.monotonic() + 5)
                c.pump(until=lambda: False,
                       deadline=time.monotonic() + float(secs))
                if c.end is not None or c.send_failed:
                    break
        elif kind == "shut":
            try:
                c.s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        elif kind in ("close", "rst"):
            settled(log.pid_of(c.sport, c.since, 5))
            c.close(kind == "rst")
        elif kind == "read":
            n, _, secs = arg.partition(":")
            c.pump(until=lambda: len(c.got) >= int(n),
                   deadline=time.monotonic() + float(secs))
        elif kind == "wait":
            c.pump(until=lambda: False, deadline=time.monotonic() + float(arg))
        else:
            return "not ok %s: bad step %s" % (label, step)
    if c.end is None:
        c.pump(until=lambda: False, deadline=c.t0 + hi / 1000 + 3)
    if c.end is None:
        c.close(False)
        c.end = "timeout"
    elif c.end != "us":
        c.s.close()
    got = c.got.hex()
    if not reply_regex(reply, var).fullmatch(got):
        problems.append("reply %s, expected %s" % (got or "nothing", reply))
    if c.end not in end.split("/"):
        problems.append("ended by %s, expected %s" % (c.end, end))
    if c.end in ("eof", "rst"):
        took = (c.t_end - c.t0) * 1000
        note_time(took)
        if not lo <= took <= hi:
            problems.append("ended after %d ms, expected %d-%d"
                            % (took, lo, hi))
    if log.pid_of(c.sport, c.since) is None:
        problems.append("no socks4d spawned for client port %d" % c.sport)
    else:
        d = log.death_of(c.sport, c.since, hi / 1000 + 10)
        if d is None:
            problems.append("socks4d (PID %d) has not exited"
                            % log.pid_of(c.sport, c.since))
        else:
            code, when = d
            if str(code) not in exitc.split("/"):
                problems.append("socks4d exited with code %d, expected %s"
                                % (code, exitc))
            took = (when - c.t0) * 1000
            if c.end == "us" and not lo <= took <= hi:
                problems.append("socks4d died %d ms after connect,"
                                " expected %d-%d" % (took, lo, hi))
    if reason != "-":
        text = log.text_of(c.sport, c.since)
        ok = (re.search(reason[1:], text) if reason.startswith("~")
              else reason in text)
        if not ok:
            problems.append("log lacks %r; it has: %r" % (reason, text))
    pid = log._spawned(c.sport, c.since) or "?"
    if problems:
        return "not ok %s (port %d, PID %s): %s" % (label, c.sport, pid,
                                                    "; ".join(problems))
    return "ok %s (PID %s, exit %s, %s)" % (label, pid, exitc, c.end)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--var", action="append", default=[])
    ap.add_argument("table")
    args = ap.parse_args()
    var = dict(v.split("=", 1) for v in args.var)
    cases = []
    rows = []
    for ln in open(args.table):
        ln = ln.strip()
        if not ln or ln.startswith("#"):
            continue
        if ln.startswith("| ") and rows:
            rows[-1] += " " + ln		# a case continued
        else:
            rows.append(ln)
    for ln in rows:
        f = [x.strip() for x in ln.split(" | ")]
        if len(f) != 7:
            sys.exit("bad table line (%d fields): %s" % (len(f), ln))
        cases.append(f)
    log = Log(args.log)
    results = [None] * len(cases)
    sem = threading.Semaphore(args.jobs)

    def worker(i):
        with sem:
            try:
                results[i] = run_case(cases[i], args, var, log)
            except Exception as e:		# a broken case is a failed case
                results[i] = "not ok %s: %r" % (cases[i][0], e)
    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.1)
    bad = [r for r in results if not r.startswith("ok")]
    for r in results:
        print(r)
    for ln in log.sanitizer:
        print("not ok sanitizer: " + ln)
    print("%d cases, %d failed, slowest end after %d ms" %
          (len(cases), len(bad) + len(log.sanitizer), slowest[0]))
    log.stop = True
    sys.exit(1 if bad or log.sanitizer else 0)


if __name__ == "__main__":
    main()
