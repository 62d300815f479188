#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A stand-in syslog daemon: a unix datagram socket at PATH (the tests
mount it as /dev/log inside a private mount namespace) that appends every
message it receives, one a line, to FILE.  Prints "ready" once it listens.

usage: syslog_listener.py PATH FILE
"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)   # socks4d logs as nobody once it has dropped root
with open(out, "ab", buffering=0) as f:
    print("ready", flush=True)
    while True:
        f.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
