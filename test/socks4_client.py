#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A SOCKS4/4a test client: connect through the proxy, then pipe stdin to the
connection and the connection to stdout, passing stdin's EOF on as a
half-close (shutdown SHUT_WR) and reading until the other side ends.

usage: socks4_client.py [-u USER] [--4a] [--early] [--after-eof]
                        [--port-file F] [--eof-file F]
                        PROXY_PORT DEST DEST_PORT

DEST is an IPv4 address (SOCKS4) or, with --4a, a name sent as the SOCKS4a
hostname.  --early sends the first chunk of stdin in the same write as the
request, before the reply.  --after-eof sends stdin only once the other
side's EOF has come, its half-close right behind it: the session's first
bytes and its end come together.  --port-file writes the client's local port;
--eof-file is written when the other side's EOF arrives.
Exit status: 0 relayed to the end, 1 the proxy replied with anything but 90
(the reply's CD byte, in hex, goes to stderr), 2 usage or socket error.
"""
import argparse
import os
import socket
import sys
import threading

CHUNK = 1 << 16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-u", "--user", default="")
    ap.add_argument("--4a", dest="socks4a", action="store_true")
    ap.add_argument("--early", action="store_true")
    ap.add_argument("--after-eof", action="store_true")
    ap.add_argument("--port-file")
    ap.add_argument("--eof-file")
    ap.add_argument("--proxy", default="127.0.0.1")
    ap.add_argument("proxy_port", type=int)
    ap.add_argument("dest")
    ap.add_argument("dest_port", type=int)
    a = ap.parse_args()

    if a.socks4a:
        ip, tail = bytes([0, 0, 0, 1]), a.dest.encode() + b"\0"
    else:
        ip, tail = socket.inet_aton(a.dest), b""
    req = (bytes([4, 1]) + a.dest_port.to_bytes(2, "big") + ip +
           a.user.encode() + b"\0" + tail)

    s = socket.create_connection((a.proxy, a.proxy_port), timeout=60)
    s.settimeout(None)
    if a.port_file:
        with open(a.port_file, "w") as f:
            f.write("%d\n" % s.getsockname()[1])
    early = os.read(0, CHUNK) if a.early else b""
    s.sendall(req + early)
    reply = b""
    while len(reply) < 8:
        b = s.recv(8 - len(reply))
        if not b:
            sys.stderr.write("socks4_client: closed after %d reply bytes\n"
                             % len(reply))
            return 1
        reply += b
    if reply[0] != 0 or reply[1] != 90:
        sys.stderr.write("socks4_client: reply %s\n" % reply.hex())
        return 1

    def upstream():
        try:
            if a.early and not early:
                pass                    # stdin was empty: EOF already
            else:
                while True:
                    b = os.read(0, CHUNK)
                    if not b:
                        break
                    s.sendall(b)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            sys.stderr.write("socks4_client: send: %s\n" % e)

    t = threading.Thread(target=upstream, daemon=True)
    if not a.after_eof:
        t.start()
    out = sys.stdout.buffer
    while True:
        b = s.recv(CHUNK)
        if not b:
            break
        out.write(b)
    out.flush()
    if a.eof_file:
        with open(a.eof_file, "w") as f:
            f.write("eof\n")
    if a.after_eof:
        upstream()
    else:
        t.join()
    s.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        sys.stderr.write("socks4_client: %s\n" % e)
        sys.exit(2)
