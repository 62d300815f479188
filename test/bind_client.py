#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A SOCKS4 BIND client and its peer, for the bats suites.

The client sends a BIND request to the proxy and checks the first reply byte
by byte; a "peer" (the app server of the protocol) then connects to the port
the reply names, from a chosen source address, and the client checks the
second reply; then data goes both ways and is compared by sha256.  --mode
picks what goes wrong on purpose:

  ok              both replies 90, BYTES each way, byte-identical
  early           the client sends EARLY bytes after the first reply, before
                  the peer connects; they must reach the peer first, intact
  early-pipelined the same, sent in one write with the request
  wrong-peer      the peer is not the one allowed: second reply 91, all closed
  client-close    the client leaves during the wait: the port is released
  early-close     the client sends EARLY bytes, then leaves: the same
  deadline        nobody connects: second reply 91 after about --deadline s
  reject          the firewall refuses: first reply 91, then the proxy closes

Each reply is printed as "first|second" and its 8 bytes in hex.  A failed
check prints "FAIL: ..." on stderr and the exit status is 1; 0 means every
check of the mode passed.  Run it with /usr/bin/python3; no module beyond
the standard library.
"""
import argparse
import hashlib
import os
import socket
import struct
import sys
import threading
import time

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return ok


def hexb(b):
    return " ".join("%02x" % x for x in b)


def recv_exact(s, n):
    """n bytes, or fewer if the other side closes or resets first."""
    buf = b""
    while len(buf) < n:
        try:
            got = s.recv(n - len(buf))
        except ConnectionResetError:
            break
        if not got:
            break
        buf += got
    return buf


def closed_by_other_side(s, timeout):
    """True when the other side closes (EOF or reset) with no data first."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def listening(ip, port):
    """Is there a TCP listener on ip:port?  Read from /proc, so that looking
    does not become the connection a BIND waits for."""
    want_port = "%04X" % port
    want_ip = "%08X" % struct.unpack("<I", socket.inet_aton(ip))[0]
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            local, state = line.split()[1], line.split()[3]
            lip, lport = local.split(":")
            if (state == "0A" and lport == want_port
                    and lip in (want_ip, "00000000")):
                return True
    return False


def check_released(ip, port, within):
    """The BIND port is closed within `within` s, and a connect is refused."""
    end = time.monotonic() + within
    while listening(ip, port) and time.monotonic() < end:
        time.sleep(0.05)
    if not check(not listening(ip, port),
                 "nothing listens on %s:%d any more" % (ip, port)):
        return
    probe = socket.socket()
    probe.settimeout(5)
    try:
        probe.connect((ip, port))
        check(False, "connect to %s:%d refused (it was accepted)" % (ip, port))
    except ConnectionRefusedError:
        check(True, "connect to %s:%d refused" % (ip, port))
    finally:
        probe.close()


def check_reply(name, r, cd, port=None, ip=None):
    print("%s %s" % (name, hexb(r)))
    if not check(len(r) == 8, "%s reply is 8 bytes (got %d)" % (name, len(r))):
        return False
    good = check(r[0] == 0, "%s reply VN is 0 (got %d)" % (name, r[0]))
    good &= check(r[1] == cd, "%s reply CD is %d (got %d)" % (name, cd, r[1]))
    if port is not None:
        got = r[2] << 8 | r[3]
        good &= check(got == port, "%s reply DSTPORT is %d (got %d)"
                      % (name, port, got))
    if ip is not None:
        got = socket.inet_ntoa(r[4:8])
        good &= check(got == ip, "%s reply DSTIP is %s (got %s)"
                      % (name, ip, got))
    return good


def pump(s, data, out):
    """Send data then half-close; in another thread, read to EOF."""
    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            out["send_error"] = e
    t = threading.Thread(target=send)
    t.start()
    h, n = hashlib.sha256(), 0
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
    except OSError as e:
        out["recv_error"] = e
    t.join()
    out["n"], out["sha"] = n, h.hexdigest()


def exchange(client, peer, already, to_peer, to_client):
    """Both directions at once, each half-closed when its sender is done.
    The peer must receive `already` (sent early by the client) first."""
    res_c, res_p = {}, {}
    tc = threading.Thread(target=pump, args=(client, to_peer, res_c))
    tp = threading.Thread(target=pump, args=(peer, to_client, res_p))
    tc.start(), tp.start()
    tc.join(), tp.join()
    for who, r in (("client", res_c), ("peer", res_p)):
        for k in ("send_error", "recv_error"):
            if k in r:
                check(False, "%s %s: %s" % (who, k.replace("_", " "), r[k]))
    to_peer = already + to_peer
    want = hashlib.sha256(to_peer).hexdigest()
    check(res_p.get("n") == len(to_peer) and res_p.get("sha") == want,
          "client -> peer: %d bytes sha256 %s (peer got %s bytes sha256 %s)"
          % (len(to_peer), want, res_p.get("n"), res_p.get("sha")))
    want = hashlib.sha256(to_client).hexdigest()
    check(res_c.get("n") == len(to_client) and res_c.get("sha") == want,
          "peer -> client: %d bytes sha256 %s (client got %s bytes sha256 %s)"
          % (len(to_client), want, res_c.get("n"), res_c.get("sha")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--proxy", required=True, help="socks4d as IP:PORT")
    ap.add_argument("--dst", default="0.0.0.0",
                    help="BIND DSTIP (default 0.0.0.0)")
    ap.add_argument("--dport", type=int, default=0,
                    help="BIND DSTPORT (default 0)")
    ap.add_argument("--user", default="bind-test", help="USERID")
    ap.add_argument("--host", help="SOCKS4a: name the peer by this name"
                    " (DSTIP 0.0.0.1)")
    ap.add_argument("--peer-from", default="127.0.0.1",
                    help="the peer's source address")
    ap.add_argument("--mode", default="ok",
                    choices=["ok", "early", "early-pipelined",
                             "wrong-peer", "client-close", "early-close",
                             "deadline", "reject"])
    ap.add_argument("--bytes", type=int, default=1 << 20,
                    help="data each way (ok, early)")
    ap.add_argument("--early", type=int, default=3000,
                    help="bytes sent before the second reply")
    ap.add_argument("--deadline", type=float, default=2,
                    help="the proxy's -B, for --mode deadline")
    ap.add_argument("--first-ip", help="DSTIP expected in the first reply"
                    " (default: the proxy's)")
    ap.add_argument("--timeout", type=float, default=30,
                    help="for every socket wait")
    a = ap.parse_args()

    phost, pport = a.proxy.rsplit(":", 1)
    pport = int(pport)
    first_ip = a.first_ip or phost
    dst = "0.0.0.1" if a.host else a.dst
    request = (struct.pack("!BBH", 4, 2, a.dport) + socket.inet_aton(dst)
               + a.user.encode() + b"\0")
    if a.host:
        request += a.host.encode() + b"\0"
    early = os.urandom(a.early) if a.mode.startswith("early") else b""

    client = socket.create_connection((phost, pport), timeout=a.timeout)
    print("client_port %d" % client.getsockname()[1])
    client.sendall(request + (early if a.mode == "early-pipelined" else b""))

    r1 = recv_exact(client, 8)
    if a.mode == "reject":
        check_reply("first", r1, 91)
        check(closed_by_other_side(client, a.timeout),
              "the proxy closes after 91")
        return
    if not check_reply("first", r1, 90, ip=first_ip):
        return
    bport = r1[2] << 8 | r1[3]
    bip = socket.inet_ntoa(r1[4:8])
    bip = phost if bip == "0.0.0.0" else bip
    print("bound %s:%d" % (bip, bport))
    check(bport != 0 and listening(bip, bport),
          "something listens on %s:%d" % (bip, bport))

    if a.mode in ("client-close", "early-close"):
        if a.mode == "early-close":
            client.sendall(early)
            time.sleep(0.3)
        client.close()
        check_released(bip, bport, 5)
        return
    if a.mode == "deadline":
        t0 = time.monotonic()
        client.settimeout(a.deadline + a.timeout)
        r2 = recv_exact(client, 8)
        waited = time.monotonic() - t0
        print("waited %.2f s" % waited)
        check_reply("second", r2, 91)
        check(a.deadline - 0.5 <= waited <= a.deadline + 3,
              "second reply after about %g s (%.2f s)" % (a.deadline, waited))
        check(closed_by_other_side(client, a.timeout),
              "the proxy closes after 91")
        check_released(bip, bport, 1)
        return
    if a.mode == "early":
        client.sendall(early)
        time.sleep(0.3)     # let the proxy see them before the peer comes

    peer = socket.socket()
    peer.settimeout(a.timeout)
    peer.bind((a.peer_from, 0))
    peer.connect((bip, bport))
    pip, pport_ = peer.getsockname()
    print("peer %s:%d" % (pip, pport_))
    r2 = recv_exact(client, 8)

    if a.mode == "wrong-peer":
        check_reply("second", r2, 91)
        check(closed_by_other_side(client, a.timeout),
              "the proxy closes the client after 91")
        check(closed_by_other_side(peer, a.timeout),
              "the proxy closes the peer after 91")
        check_released(bip, bport, 1)
        return
    if not check_reply("second", r2, 90, port=pport_, ip=pip):
        return
    check(not listening(bip, bport),
          "the listener is closed once the peer is accepted")
    exchange(client, peer, early, os.urandom(a.bytes), os.urandom(a.bytes))
    client.close()
    peer.close()


if __name__ == "__main__":
    try:
        main()
    except (OSError, socket.timeout) as e:
        check(False, "unexpected %s: %s" % (type(e).__name__, e))
    sys.exit(1 if failures else 0)
