#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""SOCKS4 clients for listener.bats, where the order of connections matters.

caps PORT ECHO_PORT SRC...
    Opens one connection from each SRC address in turn (all are queued
    before any request is sent, so socks4d accepts them in this order),
    then sends a CONNECT to 127.0.0.2:ECHO_PORT on each and prints
    "I SRC REPLY" (90, 91, or "closed" when socks4d closed it unanswered).
    Then it closes the first connection that got 90 and, keeping the
    others open, tries a new connection from the same address until one
    is answered (at most 10 s): "reuse TRIES REPLY".

session PORT ECHO_PORT
    One CONNECT to the echo peer; prints "reply 90", then for each line on
    stdin sends it and prints what came back; prints "eof" if socks4d
    closes first; closes at the end of stdin.
"""
import socket
import struct
import sys
import time


def request(port):
    return struct.pack(">BBH4s", 4, 1, port, bytes([127, 0, 0, 2])) + b"caps\0"


def connect_from(src, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    return s


def reply_of(s, echo_port):
    try:
        s.sendall(request(echo_port))
        r = b""
        while len(r) < 8:
            got = s.recv(8 - len(r))
            if not got:
                return "closed"
            r += got
        return str(r[1])
    except (ConnectionResetError, BrokenPipeError):
        return "closed"


def caps(port, echo_port, sources):
    conns = [connect_from(src, port) for src in sources]
    replies = []
    for i, (src, s) in enumerate(zip(sources, conns)):
        replies.append(reply_of(s, echo_port))
        print(i, src, replies[-1], flush=True)
    if "90" not in replies:
        return
    first = replies.index("90")
    conns[first].close()
    deadline = time.monotonic() + 10
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        s = connect_from(sources[first], port)
        r = reply_of(s, echo_port)
        s.close()
        if r == "90":
            break
        time.sleep(0.05)
    print("reuse", tries, r, flush=True)


def session(port, echo_port):
    s = connect_from("127.0.0.1", port)
    print("reply", reply_of(s, echo_port), flush=True)
    for line in sys.stdin:
        back = b""
        try:
            s.sendall(line.encode())
            while not back.endswith(b"\n"):
                got = s.recv(4096)
                if not got:
                    break
                back += got
        except (ConnectionResetError, BrokenPipeError):
            pass
        if not back.endswith(b"\n"):
            print("eof", flush=True)
            return
        print(back.decode(), end="", flush=True)
    s.close()
    print("closed", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "caps":
        caps(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    else:
        session(int(sys.argv[2]), int(sys.argv[3]))
