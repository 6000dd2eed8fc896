#!/usr/bin/env python3
"""A password-guessing run against kmd's API, for `make bench`: wrong
logins from many source addresses (127.0.0.2 and up, all local in the
test's namespace) and user names, as fast as the API answers, for a
number of seconds.  Prints how the logins were answered, one status a
line ("401 1234": checked and refused; 429: held back by the login
limits; 503: the hashing queue was full).

usage: guess.py HOST:PORT SECONDS ADDRESSES THREADS
"""
import collections
import http.client
import ssl
import sys
import threading
import time

hostport, secs, naddr, nthreads = sys.argv[1], float(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4])
host, port = hostport.rsplit(":", 1)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
end = time.monotonic() + secs
counts = collections.Counter()
lock = threading.Lock()


def worker(k):
    i = k
    while time.monotonic() < end:
        src = "127.0.%d.%d" % (2 + (i // 250) % 200, 2 + i % 250)
        body = '{"username":"guess%d","password":"wrong-%d"}' % (i % 5000, i)
        try:
            c = http.client.HTTPSConnection(host, int(port), context=ctx,
                                            source_address=(src, 0),
                                            timeout=10)
            c.request("POST", "/api/v1/auth/tokens", body,
                      {"Content-Type": "application/json"})
            st = c.getresponse().status
            c.close()
        except OSError:
            st = "error"
        with lock:
            counts[st] += 1
        i += nthreads
        if i >= naddr * 5:
            i = k


ts = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for st, n in sorted(counts.items(), key=str):
    print(st, n)
