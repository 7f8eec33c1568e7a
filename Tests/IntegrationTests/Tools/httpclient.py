#!/usr/bin/env python3
"""Sends N HTTP/1.1 requests over keep-alive connections and prints a JSON
summary: status counts, answering workloads, response-flag headers, and timing.

  httpclient.py --url http://VIP/path --count N [--concurrency C] [--header k:v]... [--rate R]
                [--chunked-body TEXT [--pause-ms MS]]

With --chunked-body each request is a POST whose chunked body follows its
headers after a pause, so a proxy sees the headers alone first."""
import argparse
import collections
import http.client
import json
import threading
import time
import urllib.parse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second in total (0: as fast as possible)")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--chunked-body", help="POST this as a chunked body, after --pause-ms")
    parser.add_argument("--pause-ms", type=float, default=50.0)
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    headers = dict(h.split(":", 1) for h in args.header)
    statuses = collections.Counter()
    workloads = collections.Counter()
    reasons = collections.Counter()
    durations = []
    lock = threading.Lock()
    next_index = [0]
    started = time.monotonic()

    def worker():
        conn = None
        while True:
            with lock:
                index = next_index[0]
                if index >= args.count:
                    break
                next_index[0] += 1
            if args.rate:
                due = started + index / args.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=args.timeout)
                if args.chunked_body is None:
                    conn.request("GET", url.path or "/", headers=headers)
                else:
                    def paused_body():
                        time.sleep(args.pause_ms / 1000)
                        yield args.chunked_body.encode()
                    conn.request("POST", url.path or "/", body=paused_body(), headers=headers, encode_chunked=True)
                response = conn.getresponse()
                body = response.read()
                status = response.status
                reason = response.getheader("ferry-reason") or ""
                workload = ""
                if status == 200:
                    try:
                        workload = json.loads(body).get("workload", "")
                    except ValueError:
                        pass
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as error:  # a reset or timeout is a result too
                status, workload, reason = 0, "", type(error).__name__
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                statuses[status] += 1
                if workload:
                    workloads[workload] += 1
                if reason:
                    reasons[reason] += 1
                durations.append(time.monotonic() - t0)

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    durations.sort()
    print(json.dumps({
        "statuses": {str(k): v for k, v in statuses.items()},
        "workloads": dict(workloads),
        "reasons": dict(reasons),
        "elapsed": elapsed,
        "p50_ms": durations[len(durations) // 2] * 1000 if durations else 0,
    }))


if __name__ == "__main__":
    main()
