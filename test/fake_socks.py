#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A broken or recording SOCKS server for hw4.cgi's tests.

One connection on stdin/stdout, run by a super-server:

    systemd-socket-activate -a --inetd -l 127.0.0.1:PORT \\
        test/fake_socks.py MODE [FILE]

MODE:
    garbage     answer with an HTTP error instead of a SOCKS reply
    short       answer 3 bytes of a reply, then close
    silent      read, never answer, close when the client does
    record      read one SOCKS4/4a request, append it in hex to FILE,
                answer 91 (rejected)
"""
import os
import sys


def read_request(fd):
    """The bytes of one request: 8 fixed, USERID NUL, 4a HOSTNAME NUL."""
    buf = b""
    while True:
        chunk = os.read(fd, 512)
        if not chunk:
            return buf
        buf += chunk
        if len(buf) < 9:
            continue
        nuls = 2 if buf[4:7] == b"\0\0\0" and buf[7] != 0 else 1
        if buf[8:].count(b"\0") >= nuls or len(buf) > 1024:
            return buf


def main():
    mode = sys.argv[1]
    # Read the request first: closing on unread bytes would send a reset,
    # and the client might see that instead of the answer.
    if mode == "garbage":
        read_request(0)
        os.write(1, b"HTTP/1.0 400 Bad Request\r\n\r\n")
        return
    if mode == "short":
        read_request(0)
        os.write(1, b"\0\x5a\0")
        return
    if mode == "silent":
        while os.read(0, 4096):
            pass
        return
    if mode == "record":
        req = read_request(0)
        with open(sys.argv[2], "a") as f:
            f.write(req.hex() + "\n")
        os.write(1, b"\0\x5b" + (req + b"\0" * 8)[2:8])
        return
    sys.exit("fake_socks.py: unknown mode " + mode)


if __name__ == "__main__":
    main()
