#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Many concurrent SOCKS4 CONNECT sessions through socks4d, for load.bats.

usage: load_client.py PROXYPORT DSTIP DSTPORT --sessions N
                      [--bytes B | --idle SECS] [--at-barrier CMD]

Every session connects, sends its request and waits for 90. Once all N are
granted (so N sessions, and N socks4d processes, are alive at once), CMD is
run (e.g. to count processes) and then:
  --bytes B   each session sends B bytes of its own (a rotation of one
              random block, different for every session) to the echo server
              behind socks4d while reading them back, half-closes, reads to
              EOF and compares length and sha256 with what it sent
  --idle S    each session stays idle S seconds more, then half-closes and
              reads to EOF (expecting nothing)
Prints when all were granted, then "sessions= granted= ok= failed= seconds="
and the first failures; exits 1 unless every session succeeded.
"""
import argparse
import asyncio
import hashlib
import os
import socket
import struct
import sys
import time


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("proxy_port", type=int)
    ap.add_argument("dst_ip")
    ap.add_argument("dst_port", type=int)
    ap.add_argument("--sessions", type=int, required=True)
    ap.add_argument("--bytes", type=int, default=0)
    ap.add_argument("--idle", type=float, default=0)
    ap.add_argument("--at-barrier")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()

    n = a.sessions
    base = os.urandom(a.bytes) if a.bytes else b""
    request = (struct.pack(">BBH", 4, 1, a.dst_port)
               + socket.inet_aton(a.dst_ip) + b"load\0")
    expect = b"\x00\x5a" + request[2:8]
    granted = 0
    all_granted = asyncio.Event()
    failures = []
    t0 = time.monotonic()

    async def barrier():
        nonlocal granted
        granted += 1
        if granted == n:
            print("all %d granted after %.1f s" % (n, time.monotonic() - t0),
                  flush=True)
            if a.at_barrier:
                p = await asyncio.create_subprocess_shell(a.at_barrier)
                await p.wait()
            all_granted.set()
        await all_granted.wait()

    async def session(i):
        r, w = await asyncio.open_connection("127.0.0.1", a.proxy_port,
                                             limit=1 << 20)
        try:
            w.write(request)
            reply = await r.readexactly(8)
            if reply != expect:
                raise RuntimeError("reply %s" % reply.hex())
            await barrier()
            if a.bytes:
                k = (i * 7919 + 1) % len(base)
                want = hashlib.sha256()
                want.update(memoryview(base)[k:])
                want.update(memoryview(base)[:k])

                async def send():
                    w.write(memoryview(base)[k:])
                    w.write(memoryview(base)[:k])
                    await w.drain()
                    w.write_eof()
                sender = asyncio.create_task(send())
                got, h = 0, hashlib.sha256()
                while True:
                    b = await r.read(1 << 18)
                    if not b:
                        break
                    got += len(b)
                    h.update(b)
                await sender
                if got != len(base) or h.digest() != want.digest():
                    raise RuntimeError(
                        "got %d bytes, sha256 %s, sent %d, sha256 %s" %
                        (got, h.hexdigest(), len(base), want.hexdigest()))
            else:
                await asyncio.sleep(a.idle)
                w.write_eof()
                rest = await r.read()
                if rest:
                    raise RuntimeError("%d unexpected bytes" % len(rest))
        finally:
            w.close()

    async def guarded(i):
        try:
            await session(i)
            return True
        except Exception as e:
            failures.append("session %d: %r" % (i, e))
            all_granted.set()	# a failed run: let the others go on and end
            return False

    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(guarded(i) for i in range(n))), a.timeout)
    except asyncio.TimeoutError:
        results = []
        failures.append("timed out after %d s with %d of %d granted"
                        % (a.timeout, granted, n))
    ok = sum(1 for x in results if x)
    print("sessions=%d granted=%d ok=%d failed=%d seconds=%.1f" %
          (n, granted, ok, n - ok, time.monotonic() - t0))
    for f in failures[:10]:
        print(f)
    return 0 if ok == n else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
