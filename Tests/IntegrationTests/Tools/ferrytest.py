#!/usr/bin/env python3
"""Traffic tools for Ferry's integration tests: real sockets, no mocks.

  sink  --listen ADDR:PORT          accept connections; read to EOF; answer
                                    "<bytes> <sha256> <peer>" and close
  send  --to ADDR:PORT --bytes N    send N deterministic bytes, half-close, print the
                                    answer, exit 1 if the hash differs
  peername --to ADDR:PORT           connect; print "peer HOST PORT" from getpeername(),
                                    then exchange 100 bytes as send does
  hold  --to ADDR:PORT --seconds S  send a trickle for S seconds (a long-lived connection)
  many  --to ADDR:PORT --concurrent C --sequential S
                                    C parallel then S sequential short exchanges
  origdst --listen ADDR:PORT        accept one connection; print SO_ORIGINAL_DST
  burst --to ADDR:PORT --count N --parallel P
                                    N short exchanges over P workers; print
                                    "done N failures F seconds S"
  resets --to ADDR:PORT --count N   N connections, each closed at once with a reset
  idle --to ADDR:PORT --seconds S   connect, say "connected", send nothing for S seconds
"""
import argparse
import hashlib
import socket
import struct
import sys
import threading
import time


def split(address):
    host, port = address.rsplit(":", 1)
    return host.strip("[]"), int(port)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def pattern(n):
    """Deterministic, incompressible-looking bytes: sha256 in counter mode."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest() * 64
        counter += 1
    return bytes(out[:n])


def serve(address, handler):
    host, port = split(address)
    server = socket.socket(family(host), socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(1024)
    print("listening", flush=True)
    while True:
        conn, peer = server.accept()
        threading.Thread(target=handler, args=(conn, peer), daemon=True).start()


def sink_handler(conn, peer):
    digest = hashlib.sha256()
    total = 0
    try:
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
            total += len(chunk)
        conn.sendall(f"{total} {digest.hexdigest()} {peer[0]}\n".encode())
    except OSError:
        pass
    finally:
        conn.close()


def exchange(address, payload):
    host, port = split(address)
    with socket.create_connection((host, port), timeout=30) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.decode().strip()


def cmd_send(args):
    payload = pattern(args.bytes)
    answer = exchange(args.to, payload)
    print(answer, flush=True)
    count, digest, _ = answer.split(" ")
    if int(count) != len(payload) or digest != hashlib.sha256(payload).hexdigest():
        print("MISMATCH", flush=True)
        sys.exit(1)


def cmd_peername(args):
    host, port = split(args.to)
    with socket.create_connection((host, port), timeout=30) as conn:
        peer = conn.getpeername()
        print(f"peer {peer[0]} {peer[1]}", flush=True)
        conn.sendall(pattern(100))
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    print(answer.decode().strip(), flush=True)


def cmd_hold(args):
    host, port = split(args.to)
    with socket.create_connection((host, port), timeout=30) as conn:
        print("connected", flush=True)
        deadline = time.time() + args.seconds
        sent = 0
        while time.time() < deadline:
            conn.sendall(b"x" * 65536)
            sent += 65536
            time.sleep(0.05)
        conn.shutdown(socket.SHUT_WR)
        print(conn.recv(4096).decode().strip(), flush=True)


def cmd_many(args):
    failures = []
    payload = b"ferry-short-connection"

    def one():
        try:
            answer = exchange(args.to, payload)
            if not answer.startswith(f"{len(payload)} "):
                failures.append(answer)
        except OSError as error:
            failures.append(str(error))

    threads = [threading.Thread(target=one) for _ in range(args.concurrent)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(args.sequential):
        one()
    print(f"done {args.concurrent + args.sequential} failures {len(failures)}", flush=True)
    for failure in failures[:5]:
        print(failure, flush=True)
    sys.exit(1 if failures else 0)


def cmd_burst(args):
    """Short connections as a busy client makes them: each sends a little,
    half-closes and reads the answer."""
    failures = []
    payload = pattern(2000)
    remaining = list(range(args.count))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not remaining:
                    return
                remaining.pop()
            try:
                answer = exchange(args.to, payload)
                if not answer.startswith(f"{len(payload)} "):
                    failures.append(answer)
            except OSError as error:
                failures.append(str(error))

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(args.parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"done {args.count} failures {len(failures)} seconds {time.monotonic() - started:.2f}", flush=True)
    for failure in failures[:5]:
        print(failure, flush=True)
    sys.exit(1 if failures else 0)


def cmd_resets(args):
    host, port = split(args.to)
    for _ in range(args.count):
        conn = socket.create_connection((host, port), timeout=10)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    print(f"reset {args.count}", flush=True)


def cmd_idle(args):
    host, port = split(args.to)
    with socket.create_connection((host, port), timeout=30):
        print("connected", flush=True)
        time.sleep(args.seconds)


def cmd_origdst(args):
    host, port = split(args.listen)
    server = socket.socket(family(host), socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(1)
    print("listening", flush=True)
    if args.accept_after:
        time.sleep(args.accept_after)
    conn, _ = server.accept()
    raw = conn.getsockopt(socket.SOL_IP, 80, 16)
    port, = struct.unpack("!H", raw[2:4])
    print(f"{socket.inet_ntoa(raw[4:8])}:{port}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sink"); p.add_argument("--listen", required=True)
    p = sub.add_parser("send"); p.add_argument("--to", required=True); p.add_argument("--bytes", type=int, required=True)
    p = sub.add_parser("peername"); p.add_argument("--to", required=True)
    p = sub.add_parser("hold"); p.add_argument("--to", required=True); p.add_argument("--seconds", type=float, default=5)
    p = sub.add_parser("many"); p.add_argument("--to", required=True)
    p.add_argument("--concurrent", type=int, default=100); p.add_argument("--sequential", type=int, default=1000)
    p = sub.add_parser("burst"); p.add_argument("--to", required=True)
    p.add_argument("--count", type=int, default=60); p.add_argument("--parallel", type=int, default=6)
    p = sub.add_parser("resets"); p.add_argument("--to", required=True); p.add_argument("--count", type=int, default=100)
    p = sub.add_parser("idle"); p.add_argument("--to", required=True); p.add_argument("--seconds", type=float, default=10)
    p = sub.add_parser("origdst"); p.add_argument("--listen", required=True)
    p.add_argument("--accept-after", type=float, default=0, help="seconds to wait before accepting")
    args = parser.parse_args()
    if args.command == "sink":
        serve(args.listen, sink_handler)
    elif args.command == "send":
        cmd_send(args)
    elif args.command == "peername":
        cmd_peername(args)
    elif args.command == "hold":
        cmd_hold(args)
    elif args.command == "many":
        cmd_many(args)
    elif args.command == "origdst":
        cmd_origdst(args)
    elif args.command == "burst":
        cmd_burst(args)
    elif args.command == "resets":
        cmd_resets(args)
    elif args.command == "idle":
        cmd_idle(args)


if __name__ == "__main__":
    main()
