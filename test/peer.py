#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The destination servers of the bats suites.

usage: peer.py MODE ADDR PORT [--ready FILE] [--out FILE] [--accept-log FILE]
               [--bytes N] [--send FILE]

MODE
  echo       send back what arrives; close after the client's EOF once all
             is sent (asyncio: thousands of sessions in one process)
  after-eof  read until EOF, then send all of it back and close: a client
             sees its bytes again only if its half-close got through
  xfer       send --send FILE while reading; half-close when the file is
             sent; at the client's EOF, append "SHA256 BYTES" of what
             arrived to --out
  blackhole  listen with a full accept queue and never accept: a connect()
             to it gets no SYN-ACK and hangs (loopback, no firewall needed)
  reset      send --bytes N, wait for one byte from the client, then close
             with SO_LINGER 0: the connection is reset mid-transfer (with
             --bytes 0: reset as soon as accepted)
  halfclose  send --bytes N, shutdown(SHUT_WR), then read until EOF
  stream     send without end and read, until the connection fails
  udp-echo   UDP: send each datagram back to where it came from
--ready      written (with the port) once the server is ready for clients
--out        one line a connection: "sent SHA256 N recv SHA256 N end HOW"
             (xfer: see above)
--accept-log one line "accept IP:PORT" a connection (udp-echo: a
             datagram), so a test can prove that a rejected request never
             reached here
"""
import argparse
import asyncio
import hashlib
import os
import select
import socket
import struct
import threading
import time

CHUNK = 1 << 16
lock = threading.Lock()


def note(path, line):
    if path:
        with lock, open(path, "a") as f:
            f.write(line + "\n")


def ready(args):
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % args.port)
        os.rename(args.ready + ".tmp", args.ready)


class Echo(asyncio.Protocol):
    def __init__(self, args):
        self.args = args

    def connection_made(self, transport):
        self.t = transport
        note(self.args.accept_log,
             "accept %s:%d" % transport.get_extra_info("peername")[:2])

    def data_received(self, data):
        self.t.write(data)

    # Reading stops while what came cannot be sent on: the echo never buffers
    # more than the transport's high-water mark.
    def pause_writing(self):
        self.t.pause_reading()

    def resume_writing(self):
        self.t.resume_reading()

    def eof_received(self):
        return False	# close once the buffered bytes are sent: FIN, not RST


async def serve_echo(args):
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: Echo(args), args.addr, args.port,
                                   backlog=4096, reuse_address=True)
    ready(args)
    async with srv:
        await srv.serve_forever()


def blackhole(args):
    """Backlog 0 holds one connection that is never accepted; while it sits
    there the kernel drops every further SYN, so connect() just waits."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.addr, args.port))
    ls.listen(0)
    held = []
    while True:
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex((args.addr, args.port))
        held.append(c)
        _, w, _ = select.select([], [c], [], 0.5)
        if not w:
            break		# this SYN went unanswered: the queue is full
        if len(held) > 16:
            raise SystemExit("blackhole: the accept queue never filled")
    ready(args)
    while True:
        time.sleep(3600)


def pattern(n, seed):
    """n bytes that differ per seed, cheap to make."""
    block = (hashlib.sha256(b"%d" % seed).digest() * 2048
             + struct.pack(">Q", seed))
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def reader(s, h):
    """Read until EOF or error: (bytes, how it ended)."""
    n = 0
    while True:
        try:
            b = s.recv(CHUNK)
        except OSError as e:
            return n, "error:" + (e.strerror or str(e))
        if not b:
            return n, "eof"
        h.update(b)
        n += len(b)


def send_file(s, path):
    with open(path, "rb") as f:
        while b := f.read(CHUNK):
            s.sendall(b)
    s.shutdown(socket.SHUT_WR)


def handle(args, s, addr, seq):
    note(args.accept_log, "accept %s:%d" % addr[:2])
    sent = hashlib.sha256()
    recv = hashlib.sha256()
    ns = 0
    how = "?"
    try:
        if args.mode == "after-eof":
            data = bytearray()
            while b := s.recv(CHUNK):
                data += b
            s.sendall(data)
            return
        if args.mode == "xfer":
            t = threading.Thread(target=send_file, args=(s, args.send))
            t.start()
            nr, _ = reader(s, recv)
            t.join()
            note(args.out, "%s %d" % (recv.hexdigest(), nr))
            return
        if args.mode == "reset":
            b = b""
            if args.bytes:		# with --bytes 0, reset at once
                data = pattern(args.bytes, seq)
                s.sendall(data)
                sent.update(data)
                ns = len(data)
                b = s.recv(1)		# the client has it all
                recv.update(b)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.close()
            note(args.out, "sent %s %d recv %s %d end reset-sent" %
                 (sent.hexdigest(), ns, recv.hexdigest(), len(b)))
            return
        if args.mode == "halfclose":
            data = pattern(args.bytes, seq)
            s.sendall(data)
            sent.update(data)
            ns = len(data)
            s.shutdown(socket.SHUT_WR)
            nr, how = reader(s, recv)
            note(args.out, "sent %s %d recv %s %d end %s" %
                 (sent.hexdigest(), ns, recv.hexdigest(), nr, how))
            return
        if args.mode == "stream":
            res = {}
            t = threading.Thread(target=lambda: res.update(r=reader(s, recv)))
            t.start()
            data = pattern(CHUNK, seq)
            try:
                while True:
                    s.sendall(data)
                    ns += len(data)
            except OSError as e:
                how = "send:" + (e.strerror or str(e))
            t.join()
            note(args.out, "sent - %d recv %s %d end %s read-%s" %
                 (ns, recv.hexdigest(), res["r"][0], how, res["r"][1]))
            return
    except OSError as e:
        note(args.out, "sent %s %d recv - - end error:%s"
             % (sent.hexdigest(), ns, e.strerror))
    finally:
        try:
            s.close()
        except OSError:
            pass


def udp_echo(args):
    s = socket.socket(socket.AF_INET6 if ":" in args.addr else socket.AF_INET,
                      socket.SOCK_DGRAM)
    s.bind((args.addr, args.port))
    ready(args)
    while True:
        data, addr = s.recvfrom(65535)
        note(args.accept_log, "accept %s:%d" % addr[:2])
        s.sendto(data, addr)


def threaded(args):
    ls = socket.create_server((args.addr, args.port), backlog=128,
                              family=socket.AF_INET6 if ":" in args.addr
                              else socket.AF_INET)
    ready(args)
    seq = 0
    while True:
        s, addr = ls.accept()
        seq += 1
        threading.Thread(target=handle, args=(args, s, addr, seq),
                         daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["echo", "after-eof", "xfer", "blackhole",
                                     "reset", "halfclose", "stream",
                                     "udp-echo"])
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--ready")
    ap.add_argument("--out")
    ap.add_argument("--accept-log")
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--send")
    args = ap.parse_args()
    if args.mode == "echo":
        asyncio.run(serve_echo(args))
    elif args.mode == "blackhole":
        blackhole(args)
    elif args.mode == "udp-echo":
        udp_echo(args)
    else:
        threaded(args)


if __name__ == "__main__":
    main()
