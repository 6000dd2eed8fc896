# Malformed frames on the control socket: an error reply, the connection
# closed, kmd unharmed.
. regress/e2e/lib.sh
start_kmd || finish

# send TYPE FLAGS LEN PAYLOAD: one raw frame, print what kmd answers
send() {
	python3 - "$SOCK" "$@" <<'PY'
import socket, struct, sys
path, typ, flags, length, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].encode()
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(path)
s.sendall(struct.pack('=HHIII', typ, flags, length, 0, 0) + payload)
data = b''
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except socket.timeout:
    print("TIMEOUT")
print(data[16:].rstrip(b'\0').decode(errors='replace'))
PY
}

out=$(send 3 0 17 x)
check "wrong size: error names the message and sizes" \
    test "$out" = "message CTL_STATUS from kmctl has 1 bytes, expected 0"
out=$(send 999 0 16 "")
check "unknown type: error" test "$out" = "unknown message type 999 from kmctl"
out=$(send 1 0 16 "")
check "a worker-only message from kmctl is refused" \
    test "$out" = "unexpected message CONF_WORKER (type 1) from kmctl"
out=$(send 3 0 4000000 "")
check "oversize length: error, no allocation" \
    sh -c "echo '$out' | grep -q 'malformed frame from kmctl'"
out=$(send 3 0 8 "")
check "length below the header: error" \
    sh -c "echo '$out' | grep -q 'malformed frame from kmctl: Bad message'"
out=$(send 3 1 16 "")
check "fd flag without an fd: error" \
    sh -c "echo '$out' | grep -q 'malformed frame'"
check "kmd still serves after bad frames" ctl cluster info
check "no worker was restarted by a client's bad frames" \
    sh -c "! grep -q 'was killed' $LOG"
finish
