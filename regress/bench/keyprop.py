#!/usr/bin/env python3
"""How long a key's change takes to reach another node's encrypt.

keyprop.py HOST1 HOST3 PASSWORD TRIALS: for each trial, a key is made on
HOST1 and used on HOST3 (so HOST3 keeps its lookup), then rotated on
HOST1: the time from HOST1's answer until HOST3 encrypts with the new
version; then deleted on HOST1: the time until HOST3 refuses it.  HOST3
is asked over one kept-alive HTTPS connection, as fast as it answers.
Prints one line per change: "rotate|delete SECONDS".
"""
import http.client
import json
import ssl
import sys
import time

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def conn(host):
    return http.client.HTTPSConnection(host, 8443, context=ctx, timeout=10)


def call(c, method, path, body, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, "/api/v1/" + path, json.dumps(body) if body else None, h)
    r = c.getresponse()
    data = r.read()
    return r.status, json.loads(data) if data else {}


def token(c, pw):
    s, d = call(c, "POST", "auth/tokens",
                {"username": "admin", "password": pw})
    if s != 200:
        sys.exit("login: %d %s" % (s, d))
    return d["token"]


def until(c, tok, name, done, limit=10.0):
    t = time.monotonic()
    while time.monotonic() - t < limit:
        s, d = call(c, "POST", "crypto/encrypt",
                    {"id": name, "plaintext": "eA=="}, tok)
        if done(s, d):
            return time.monotonic()
    sys.exit("no change seen on the other node within %.0f s" % limit)


def main():
    h1, h3, pw, trials = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    c1, c3 = conn(h1), conn(h3)
    t1, t3 = token(c1, pw), token(c3, pw)
    for i in range(trials):
        name = "prop-%d-%d" % (i, int(time.time()))
        s, d = call(c1, "POST", "vault/keys2", {"name": name}, t1)
        if s not in (200, 201):
            sys.exit("create: %d %s" % (s, d))
        until(c3, t3, name, lambda s, d: s == 200)
        s, d = call(c1, "POST", "vault/keys2/%s/versions" % name, {}, t1)
        if s not in (200, 201):
            sys.exit("rotate: %d %s" % (s, d))
        t0 = time.monotonic()
        t = until(c3, t3, name, lambda s, d: s == 200 and d["version"] == 1)
        print("rotate %.4f" % (t - t0), flush=True)
        s, d = call(c1, "DELETE", "vault/keys2/%s" % name, None, t1)
        if s not in (200, 204):
            sys.exit("delete: %d %s" % (s, d))
        t0 = time.monotonic()
        t = until(c3, t3, name, lambda s, d: s != 200)
        print("delete %.4f" % (t - t0), flush=True)


main()
