#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A SOCKS4 CONNECT client for faults.bats: one scenario, facts on stdout.

usage: fault_client.py SCENARIO PROXYPORT DSTIP DSTPORT [--bytes N]

SCENARIO
  reset       read N bytes, send one byte ("got it"), then read to the end:
              the destination resets the connection once it has that byte
  drop        read N bytes of an endless stream, then reset the connection
  halfclose   read to EOF (the destination's half-close), then send N bytes
              and half-close in turn
  wait        read to the end (nothing is sent)
Prints key=value lines: reply (hex), got and got_sha (bytes read after the
reply), sent and sent_sha, end (eof, rst or timeout), ms (connect to end).
"""
import hashlib
import os
import socket
import struct
import sys
import time


def main():
    scenario, pport, dip, dport = sys.argv[1:5]
    n = (int(sys.argv[6])
         if len(sys.argv) > 6 and sys.argv[5] == "--bytes" else 0)
    s = socket.create_connection(("127.0.0.1", int(pport)), timeout=20)
    t0 = time.monotonic()
    s.sendall(struct.pack(">BBH", 4, 1, int(dport)) + socket.inet_aton(dip)
              + b"fault\0")
    reply = b""
    while len(reply) < 8:
        b = s.recv(8 - len(reply))
        if not b:
            break
        reply += b
    print("reply=" + reply.hex())
    got = hashlib.sha256()
    ngot = 0
    sent = hashlib.sha256()
    nsent = 0
    end = None

    def read(limit=None):
        nonlocal ngot, end
        while limit is None or ngot < limit:
            try:
                b = s.recv(65536 if limit is None else min(65536, limit - ngot))
            except ConnectionResetError:
                end = "rst"
                return
            except socket.timeout:
                end = "timeout"
                return
            if not b:
                end = "eof"
                return
            got.update(b)
            ngot += len(b)

    if reply[:2] == b"\x00\x5a":
        if scenario == "reset":
            read(n)
            s.sendall(b"k")
            nsent = 1
            sent.update(b"k")
            read()
        elif scenario == "drop":
            read(n)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.close()
            end = "us"
        elif scenario == "halfclose":
            read()
            print("got_before_send=%d" % ngot)
            data = os.urandom(n)
            s.sendall(data)
            sent.update(data)
            nsent = n
            s.shutdown(socket.SHUT_WR)
            read()
        else:
            read()
    else:
        read()
    ms = (time.monotonic() - t0) * 1000
    print("got=%d\ngot_sha=%s\nsent=%d\nsent_sha=%s\nend=%s\nms=%d" %
          (ngot, got.hexdigest(), nsent, sent.hexdigest(), end, ms))


if __name__ == "__main__":
    main()
