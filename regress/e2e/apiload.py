#!/usr/bin/env python3
"""Clients that misbehave toward the API, for t_apiload.

    apiload.py idle HOST PORT N SECONDS
        open N TCP connections, send nothing; print how many the server
        closed within SECONDS ("closed K of N")
    apiload.py keepalive HOST PORT GAP
        two requests on one kept-alive connection, GAP seconds apart:
        print "both answered" or which had no answer
    apiload.py trickle HOST PORT SECONDS
        TLS, then a request's header lines one every second, never the
        end; print "closed after T s", or "open after SECONDS s"
"""
import select
import socket
import ssl
import sys
import time


def idle(host, port, n, secs):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.setblocking(False)
        socks.append(s)
    print(f"opened {n}", flush=True)
    closed, end = set(), time.monotonic() + secs
    while len(closed) < n and time.monotonic() < end:
        live = [s for s in socks if s not in closed]
        r, _, _ = select.select(live, [], [], 0.5)
        for s in r:
            try:
                if s.recv(4096) == b"":
                    closed.add(s)
            except OSError:
                closed.add(s)
    print(f"closed {len(closed)} of {n}", flush=True)


def trickle(host, port, secs):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t0 = time.monotonic()
    s = ctx.wrap_socket(socket.create_connection((host, port), timeout=5))
    s.sendall(b"GET /api/v1/system/health HTTP/1.1\r\n")
    i = 0
    while time.monotonic() - t0 < secs:
        try:
            s.sendall(b"X-Slow-%d: x\r\n" % i)
            s.settimeout(1)
            if s.recv(4096) == b"":
                break
        except socket.timeout:
            i += 1
            continue
        except OSError:
            break
    else:
        print(f"open after {secs} s")
        return
    print(f"closed after {time.monotonic() - t0:.0f} s")


def keepalive(host, port, gap):
    """Two requests on one connection, GAP seconds apart."""
    import http.client
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)
    for i in range(2):
        if i:
            time.sleep(gap)
        sock = c.sock
        try:
            c.request("GET", "/api/v1/system/health")
            c.getresponse().read()
        except (OSError, http.client.HTTPException):
            print(f"request {i + 1}: no answer")
            return
        if i and c.sock is not sock:
            print("request 2: on a new connection")
            return
    print("both answered")


if sys.argv[1] == "keepalive":
    keepalive(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
elif sys.argv[1] == "idle":
    idle(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
else:
    trickle(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
