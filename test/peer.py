#!/usr/bin/python3
"""A destination server for the tests, one thread per connection.

usage: peer.py MODE ADDR PORT [--send FILE] [--out FILE] [--accept-log FILE]

MODE
  echo         send back what arrives, as it arrives; half-close on EOF
  after-eof    read until EOF, then send all of it back and close: a client
               sees its bytes again only if its half-close got through
  xfer         send --send FILE and read at the same time; half-close when
               the file is sent; when the client's EOF comes, append
               "SHA256 BYTES" of what arrived to --out
--accept-log   append "accept IP:PORT" for every connection accepted, so a
               test can prove that a rejected request never reached here
"""
import argparse
import hashlib
import socket
import socketserver
import threading

CHUNK = 1 << 16
lock = threading.Lock()


def note(path, line):
    if path:
        with lock, open(path, "a") as f:
            f.write(line + "\n")


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        a, s = self.server.args, self.request
        note(a.accept_log, "accept %s:%d" % self.client_address[:2])
        if a.mode == "echo":
            while True:
                b = s.recv(CHUNK)
                if not b:
                    break
                s.sendall(b)
            s.shutdown(socket.SHUT_WR)
        elif a.mode == "after-eof":
            data = bytearray()
            while True:
                b = s.recv(CHUNK)
                if not b:
                    break
                data += b
            s.sendall(data)
        elif a.mode == "xfer":
            def send():
                with open(a.send, "rb") as f:
                    while True:
                        b = f.read(CHUNK)
                        if not b:
                            break
                        s.sendall(b)
                s.shutdown(socket.SHUT_WR)
            t = threading.Thread(target=send)
            t.start()
            h, n = hashlib.sha256(), 0
            while True:
                b = s.recv(CHUNK)
                if not b:
                    break
                h.update(b)
                n += len(b)
            t.join()
            note(a.out, "%s %d" % (h.hexdigest(), n))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["echo", "after-eof", "xfer"])
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--send")
    ap.add_argument("--out")
    ap.add_argument("--accept-log")
    args = ap.parse_args()
    if ":" in args.addr:
        Server.address_family = socket.AF_INET6
    srv = Server((args.addr, args.port), Handler)
    srv.args = args
    srv.serve_forever()


if __name__ == "__main__":
    main()
