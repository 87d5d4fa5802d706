"""Two threads talk to a TCP echo server and count their messages in a shared variable, without a lock.

The program reads a name from standard input, stamps its greeting with ``time.time()`` and a
``uuid.uuid4()`` session id, and each thread sends two messages carrying ``random.random()`` values to
the echo server and records the echoes. ``count = sent ... sent = count + 1`` is a read then a write: when
the other thread runs in between, a message goes uncounted and the program reports corrupted output
(exit status 1). Record a run until it fails, then replay it without the server and without stdin:

    python examples/echo_race.py --serve 7777 &             # or any echo server on 127.0.0.1:7777
    echo alice | interlace run examples/echo_race.py 7777    # repeat until a run fails (or pass --seed)
    interlace replay .interlace/recordings/echo_race-*.ilr   # same output, same failure, no server needed
"""

import random
import socket
import sys
import threading
import time
import uuid

HOST = "127.0.0.1"
MESSAGES = 2

if sys.argv[1:2] == ["--serve"]:  # the echo server (run it without interlace)
    import socketserver

    class Echo(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(line)

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer((HOST, int(sys.argv[2])), Echo).serve_forever()

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 7777

name = sys.stdin.readline().strip() or "anonymous"
started = time.time()
session = uuid.uuid4()
echoes = []
sent = 0


def client(label):
    global sent
    with socket.create_connection((HOST, PORT), timeout=10) as conn:
        for i in range(MESSAGES):
            message = f"{label}-{i} {random.random():.6f}"
            conn.sendall(message.encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(1024)
                if not chunk:
                    break
                reply += chunk
            count = sent
            echoes.append(reply.decode().strip())
            sent = count + 1


threads = [threading.Thread(target=client, args=(label,)) for label in ("a", "b")]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

print(f"hello {name}, session {session}, started at {started:.6f}")
for echo in echoes:
    print(f"echo: {echo}")
print(f"counted {sent} of {2 * MESSAGES} messages")
if sent != 2 * MESSAGES:
    print(f"corrupted output: {2 * MESSAGES - sent} message(s) lost by the unlocked counter", file=sys.stderr)
    sys.exit(1)
