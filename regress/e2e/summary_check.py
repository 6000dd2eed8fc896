"""Check a cluster summary document (stdin) against the reference's shape.

  summary_check.py N [STALE_ID]

N reporters, each with a view of N nodes and of the pending ones (nodes
create, no join yet: status p, what a node's own entry shows and when its
credentials expire); every field the reference lists for a node's own
entry and for a peer's, no other (but ours: retained WAL, clock skew,
each node's kmd and schema versions, and a pending node's expiry), keys in the reference's (byte) order.  With STALE_ID, that
reporter's lastUpdated must be older than every other one's.
"""
import json, re, sys

SELF = ["host", "isThisNode", "kmdVersion", "nodeID", "port",
        "publicAddress", "schemaVersion", "status"]
PENDING = ["expires", "host", "isThisNode", "nodeID", "port",
           "publicAddress", "status"]
PEER = ["applyRate", "catchupInterval", "connectTime", "connected",
        "flushLSN", "flushLag", "flushLagBytes", "flushLagSize", "host",
        "isThisNode", "nodeID", "port", "publicAddress", "replayLSN",
        "replayLag", "replayLagBytes", "replayLagSize", "replicationBlocked",
        "sentLSN", "sentLagBytes", "sentLagSize", "state", "status", "uptime",
        "writeLSN", "writeLag", "writeLagBytes", "writeLagSize"]
OURS = ["clockSkewMs", "kmdVersion", "retainedWALBytes", "retainedWALSize",
        "schemaVersion"]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
LSN = re.compile(r"^[0-9A-F]+/[0-9A-F]+$")


def fail(msg):
    sys.exit("summary: " + msg)


def ordered(d, where):
    if list(d) != sorted(d):
        fail("%s: keys not in order: %s" % (where, list(d)))


doc = json.loads(sys.stdin.read(), object_pairs_hook=lambda kv: dict(kv))
n = int(sys.argv[1])
stale = sys.argv[2] if len(sys.argv) > 2 else None
if [k for k in doc][:4] != ["skip", "limit", "total", "resources"]:
    fail("top level keys %s" % list(doc))
if doc["total"] != n or len(doc["resources"]) != n:
    fail("%d reporters, expected %d" % (len(doc["resources"]), n))
for rep, r in doc["resources"].items():
    if list(r) != ["clusterSummary", "lastUpdated"]:
        fail("reporter %s keys %s" % (rep, list(r)))
    if not TIME.match(r["lastUpdated"]):
        fail("lastUpdated %r" % r["lastUpdated"])
    pending = [k for k, e in r["clusterSummary"].items()
               if e["nodeInfo"]["status"]["code"] == "p"]
    if len(r["clusterSummary"]) - len(pending) != n:
        fail("reporter %s sees %d nodes" % (rep, len(r["clusterSummary"])))
    for node, e in r["clusterSummary"].items():
        where = "%s on %s" % (rep[:8], node[:8])
        if list(e) != ["clusterErrors", "nodeInfo", "summary"]:
            fail("%s: entry keys %s" % (where, list(e)))
        if not (e["summary"] == "GOOD" or e["summary"].startswith("BAD:")):
            fail("%s: summary %r" % (where, e["summary"]))
        errs = e["clusterErrors"]
        if errs is not None:
            for x in errs:
                if list(x) != ["errorMessage", "errorTime"] or \
                        not TIME.match(x["errorTime"]):
                    fail("%s: clusterErrors %r" % (where, x))
        if (errs is None) != (e["summary"] == "GOOD"):
            fail("%s: errors %r with summary %r" % (where, errs, e["summary"]))
        ni = e["nodeInfo"]
        ordered(ni, where)
        if ni["nodeID"] != node or ni["isThisNode"] != (node == rep):
            fail("%s: nodeID/isThisNode" % where)
        if list(ni["status"]) != ["code", "description"]:
            fail("%s: status %r" % (where, ni["status"]))
        if node not in pending and (
                not isinstance(ni.get("kmdVersion"), str) or
                not isinstance(ni.get("schemaVersion"), int) or
                ni["schemaVersion"] < (ni["status"]["code"] == "r")):
            fail("%s: kmdVersion/schemaVersion %r" % (where, ni))
        if node == rep:
            if list(ni) != SELF:
                fail("%s: own entry keys %s" % (where, list(ni)))
            continue
        if node in pending:
            if list(ni) != PENDING or not TIME.match(ni["expires"]):
                fail("%s: pending entry %r" % (where, ni))
            continue
        want = set(PEER + OURS)
        if not ni["connected"]:  # as the reference: no connectTime, uptime
            want -= {"connectTime", "uptime"}
        if "clockSkewMs" not in ni:
            want.discard("clockSkewMs")
        if set(ni) != want:
            fail("%s: peer keys differ: missing %s, extra %s" % (
                where, sorted(want - set(ni)), sorted(set(ni) - want)))
        for f in ("sentLSN", "writeLSN", "flushLSN", "replayLSN"):
            if not LSN.match(ni[f]):
                fail("%s: %s %r" % (where, f, ni[f]))
        for f in ("applyRate", "flushLagBytes", "replayLagBytes",
                  "sentLagBytes", "writeLagBytes", "retainedWALBytes",
                  "port"):
            if not isinstance(ni[f], int):
                fail("%s: %s %r is no integer" % (where, f, ni[f]))
        # to the millisecond: a lag under a second is not "00:00:00"
        if not re.match(r"^\d\d:\d\d:\d\d(\.\d{1,3})?$",
                        ni["catchupInterval"]):
            fail("%s: catchupInterval %r" % (where, ni["catchupInterval"]))
        for f in ("connected", "replicationBlocked"):
            if not isinstance(ni[f], bool):
                fail("%s: %s %r" % (where, f, ni[f]))
if stale:
    mine = doc["resources"][stale]["lastUpdated"]
    if any(r["lastUpdated"] <= mine for k, r in doc["resources"].items()
           if k != stale):
        fail("reporter %s is not the stale one" % stale)
print("ok")
