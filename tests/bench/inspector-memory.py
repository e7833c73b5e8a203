#!/usr/bin/env python3
# Inspector memory figures (security review, section 7): a fresh server, bodies of ~740 KB.
# Run: python3 tests/bench/inspector-memory.py target/release/reference-receiver PORT
import json, os, socket, subprocess, sys, time, urllib.request

binary, port = sys.argv[1], int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
data = f"/tmp/inspector-measure-{port}"
subprocess.run(["rm", "-rf", data])
os.makedirs(data)
server = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}", "--data", data],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def status():
    fields = {}
    for line in open(f"/proc/{server.pid}/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) // 1024
    return fields

def call(method, path, body=None):
    request = urllib.request.Request(base + path, data=body, method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return response.read()

for _ in range(100):
    try:
        call("GET", "/healthz"); break
    except Exception:
        time.sleep(0.1)

body = json.dumps({"pad": "x" * 740_000}).encode()
def flood(token, n):
    for _ in range(n):
        call("POST", f"/in/{token}", body)

a = json.loads(call("POST", "/api/bins", b'{"alias":"bin2"}'))["token"]
flood(a, 300)
print("no subscriber, after 300 captures:", status())
stalled = socket.create_connection(("127.0.0.1", port))
stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stalled.sendall(f"GET /api/bins/{a}/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
time.sleep(0.5)
flood(a, 900)
print("one stalled live SSE subscriber, after 900 more captures:", status())
stalled.close()
b = json.loads(call("POST", "/api/bins", b'{"alias":"bin3"}'))["token"]
flood(b, 200)
before = status()
size = len(call("GET", f"/api/bins/{b}/har"))
print(f"HAR of 200 captures ({size // 1_000_000} MB): VmHWM {before['VmHWM']} -> {status()['VmHWM']} MB")
before = status()
size = len(call("GET", f"/api/bins/{a}/requests?limit=500"))
print(f"GET .../requests?limit=500 ({size // 1000} KB): VmHWM {before['VmHWM']} -> {status()['VmHWM']} MB")
catchers = []
for _ in range(4):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET /api/bins/{a}/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    catchers.append(s)
before = status()
time.sleep(3)
print(f"4 non-reading SSE clients with ?after=0: VmRSS {before['VmRSS']} -> {status()['VmRSS']} MB")
for s in catchers:
    s.close()
server.terminate()
server.wait()
subprocess.run(["rm", "-rf", data])
