#!/usr/bin/env python3
"""A two-port Ethernet link emulator for test namespaces: every frame that
arrives on one interface leaves on the other DELAY milliseconds later, both
ways, and a share of the IP frames (LOSS percent, each direction on its own) is
dropped instead.

This kernel has no sch_netem (CONFIG_NET_SCH_NETEM is not set), so tests that
need a slow or lossy link put this between a host and the bridge. Only IPv4
and IPv6 frames are ever dropped: ARP stays reliable, so a test's loss is the
loss it asked for, not a neighbour that went missing. --seed makes the drops
repeatable. On SIGTERM it prints what it forwarded and dropped.

  delayline.py IFACE_A IFACE_B --delay-ms 5 [--loss-percent 2] [--seed 1]
"""
import argparse
import heapq
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
IP_ETHERTYPES = (b"\x08\x00", b"\x86\xdd")


def open_port(name):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((name, 0))
    sock.setblocking(False)
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--delay-ms", type=float, default=5.0, help="one-way delay added in each direction")
    parser.add_argument("--loss-percent", type=float, default=0.0, help="share of IP frames dropped, each direction")
    parser.add_argument("--seed", type=int, default=None, help="seed of the drop decisions")
    args = parser.parse_args()
    if not 0 <= args.loss_percent <= 100:
        parser.error(f"--loss-percent {args.loss_percent} is not between 0 and 100")
    delay = args.delay_ms / 1000.0
    loss = args.loss_percent / 100.0
    rng = random.Random(args.seed)
    ports = {args.a: open_port(args.a), args.b: open_port(args.b)}
    other = {args.a: ports[args.b], args.b: ports[args.a]}
    by_fd = {sock.fileno(): name for name, sock in ports.items()}
    forwarded = {args.a: 0, args.b: 0}  # by the port the frames arrived on
    dropped = {args.a: 0, args.b: 0}

    def report(*_):
        print(f"forwarded {forwarded} dropped {dropped}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, report)
    signal.signal(signal.SIGINT, report)
    queue = []  # (due, sequence, socket, frame)
    sequence = 0
    print("ready", flush=True)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
        readable, _, _ = select.select(list(ports.values()), [], [], timeout)
        now = time.monotonic()
        for sock in readable:
            arrived = by_fd[sock.fileno()]
            while True:
                try:
                    frame, address = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                if address[2] == PACKET_OUTGOING:
                    continue  # our own transmission seen on the way out
                if loss and frame[12:14] in IP_ETHERTYPES and rng.random() < loss:
                    dropped[arrived] += 1
                    continue
                forwarded[arrived] += 1
                heapq.heappush(queue, (now + delay, sequence, other[arrived], frame))
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
