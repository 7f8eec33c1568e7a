#!/usr/bin/env python3
"""A two-port Ethernet delay line for test namespaces: every frame that arrives on
one interface leaves on the other DELAY milliseconds later, both ways.

This kernel has no sch_netem (CONFIG_NET_SCH_NETEM is not set), so tests that
need a slow link put this between a host and the bridge.

  delayline.py IFACE_A IFACE_B --delay-ms 5
"""
import argparse
import heapq
import select
import socket
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_port(name):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((name, 0))
    sock.setblocking(False)
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--delay-ms", type=float, default=5.0)
    args = parser.parse_args()
    delay = args.delay_ms / 1000.0
    ports = {args.a: open_port(args.a), args.b: open_port(args.b)}
    other = {args.a: ports[args.b], args.b: ports[args.a]}
    by_fd = {sock.fileno(): name for name, sock in ports.items()}
    queue = []  # (due, sequence, socket, frame)
    sequence = 0
    print("ready", flush=True)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
        readable, _, _ = select.select(list(ports.values()), [], [], timeout)
        now = time.monotonic()
        for sock in readable:
            while True:
                try:
                    frame, address = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                if address[2] == PACKET_OUTGOING:
                    continue  # our own transmission seen on the way out
                heapq.heappush(queue, (now + delay, sequence, other[by_fd[sock.fileno()]], frame))
                sequence += 1
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                out.send(frame)
            except OSError:
                pass


if __name__ == "__main__":
    main()
