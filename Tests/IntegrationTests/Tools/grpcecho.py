#!/usr/bin/env python3
"""A gRPC echo without generated code (bytes in, bytes out).

  grpcecho.py serve --port P --name NAME
  grpcecho.py call --target HOST:PORT --message TEXT        unary → prints "NAME: TEXT"
  grpcecho.py collect --target HOST:PORT --message A,B,C    client streaming → prints "NAME: A+B+C"
  grpcecho.py chat --target HOST:PORT --message A,B,C       bidirectional, in turns: sends A,
                                                            waits for "NAME: A", then sends B …
"""
import argparse
import concurrent.futures
import queue
import sys

import grpc

SERVICE = "ferry.test.Echo"


def serve(port, name):
    def say(request, context):
        return f"{name}: ".encode() + request

    def collect(requests, context):
        return f"{name}: ".encode() + b"+".join(requests)

    def chat(requests, context):
        for request in requests:
            yield f"{name}: ".encode() + request

    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Collect": grpc.stream_unary_rpc_method_handler(collect),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    })
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"[::]:{port}")
    server.start()
    print("listening", flush=True)
    server.wait_for_termination()


def call(command, target, message):
    with grpc.insecure_channel(target) as channel:
        try:
            if command == "call":
                print(channel.unary_unary(f"/{SERVICE}/Say")(message.encode(), timeout=10).decode(), flush=True)
            elif command == "collect":
                parts = (part.encode() for part in message.split(","))
                print(channel.stream_unary(f"/{SERVICE}/Collect")(parts, timeout=10).decode(), flush=True)
            else:
                # The next message goes only after the answer to the last one:
                # a proxy that waits for the whole request never answers.
                outgoing = queue.Queue()
                replies = channel.stream_stream(f"/{SERVICE}/Chat")(iter(outgoing.get, None), timeout=10)
                for part in message.split(","):
                    outgoing.put(part.encode())
                    print(next(replies).decode(), flush=True)
                outgoing.put(None)
                for extra in replies:
                    print("unexpected:", extra, flush=True)
        except grpc.RpcError as error:
            print(f"RPC failed: {error.code()} {error.details()}", flush=True)
            sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve"); p.add_argument("--port", type=int, required=True); p.add_argument("--name", required=True)
    for command in ("call", "collect", "chat"):
        p = sub.add_parser(command); p.add_argument("--target", required=True); p.add_argument("--message", required=True)
    args = parser.parse_args()
    serve(args.port, args.name) if args.command == "serve" else call(args.command, args.target, args.message)
