#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A burst of SOCKS4 clients, opened as fast as one process can, for \
systemd.bats.

usage: burst_client.py PROXYPORT DSTIP DSTPORT [--clients N] [--timeout SECS]

First every client's connect() to 127.0.0.1:PROXYPORT is issued, back to back,
before anything is read.  Then each client sends a CONNECT to DSTIP:DSTPORT
(an echo server) with a line of its own behind it, and reads until EOF.  A
client ends one of three ways:
  served   the reply 90 (00 5a + the destination), then its line echoed back
  refused  the connection refused, reset or closed before any byte: what a
           super-server at its limit does
  bad      anything else: another reply, a short or wrong echo, or no end
           within --timeout of the start (a hang)
Prints "clients= served= refused= bad= connect_secs= secs=", then the first
bad ones; exits 1 if any client was bad.
"""
import argparse
import asyncio
import errno
import resource
import socket
import struct
import sys
import time


def start_connect(port):
    """A non-blocking socket with its connect() under way, or an errno."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    err = s.connect_ex(("127.0.0.1", port))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        return err
    return s


async def connected(s):
    """Until S's connect() is done; its SO_ERROR."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_writer(s.fileno(), lambda: done.done() or done.set_result(None))
    try:
        await done
    finally:
        loop.remove_writer(s.fileno())
    return s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


async def session(i, s, request):
    if not isinstance(s, socket.socket):
        if s in (errno.ECONNREFUSED, errno.ECONNRESET):
            return "refused", None
        return "bad", "connect: %s" % errno.errorcode.get(s, s)
    err = await connected(s)
    if err in (errno.ECONNREFUSED, errno.ECONNRESET):
        s.close()
        return "refused", None
    if err:
        s.close()
        return "bad", "connect: %s" % errno.errorcode.get(err, err)
    line = b"burst client %d\n" % i
    reader, writer = await asyncio.open_connection(sock=s)
    got = b""
    try:
        writer.write(request + line)
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                break
            got += chunk
            if len(got) == 8 + len(line):
                writer.write_eof()	# all echoed: let the session end
    except ConnectionError:
        if got:
            return "bad", "reset after %r" % got
        return "refused", None
    finally:
        writer.close()
    if not got:
        return "refused", None
    if got == b"\x00\x5a" + request[2:8] + line:
        return "served", None
    return "bad", "got %r" % got


async def bounded(i, s, request, deadline):
    try:
        return await asyncio.wait_for(session(i, s, request),
                                      deadline - time.monotonic())
    except asyncio.TimeoutError:
        return "bad", "no end within the deadline"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("proxy_port", type=int)
    ap.add_argument("dst_ip")
    ap.add_argument("dst_port", type=int)
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()

    # a socket a client, and the soft limit may be 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < a.clients + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(a.clients + 64, hard), hard))
    request = (struct.pack(">BBH", 4, 1, a.dst_port)
               + socket.inet_aton(a.dst_ip) + b"burst\0")
    t0 = time.monotonic()
    socks = [start_connect(a.proxy_port) for _ in range(a.clients)]
    t_connect = time.monotonic() - t0
    deadline = t0 + a.timeout
    results = await asyncio.gather(*(bounded(i, s, request, deadline)
                                     for i, s in enumerate(socks)))
    count = {"served": 0, "refused": 0, "bad": 0}
    for how, _ in results:
        count[how] += 1
    print("clients=%d served=%d refused=%d bad=%d connect_secs=%.3f"
          " secs=%.3f" % (
              a.clients, count["served"], count["refused"], count["bad"],
              t_connect, time.monotonic() - t0))
    bad = [(i, why) for i, (how, why) in enumerate(results) if how == "bad"]
    for i, why in bad[:5]:
        print("client %d: %s" % (i, why))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
