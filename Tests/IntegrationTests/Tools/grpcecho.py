#!/usr/bin/env python3
"""A gRPC unary echo without generated code (bytes in, bytes out).

  grpcecho.py serve --port P --name NAME
  grpcecho.py call --target HOST:PORT --message TEXT   → prints "NAME: TEXT"
"""
import argparse
import concurrent.futures
import sys

import grpc

SERVICE, METHOD = "ferry.test.Echo", "Say"


def serve(port, name):
    def say(request, context):
        return f"{name}: ".encode() + request

    handler = grpc.method_handlers_generic_handler(SERVICE, {
        METHOD: grpc.unary_unary_rpc_method_handler(say, request_deserializer=None, response_serializer=None),
    })
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"[::]:{port}")
    server.start()
    print("listening", flush=True)
    server.wait_for_termination()


def call(target, message):
    with grpc.insecure_channel(target) as channel:
        say = channel.unary_unary(f"/{SERVICE}/{METHOD}", request_serializer=None, response_deserializer=None)
        try:
            print(say(message.encode(), timeout=10).decode(), flush=True)
        except grpc.RpcError as error:
            print(f"RPC failed: {error.code()} {error.details()}", flush=True)
            sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve"); p.add_argument("--port", type=int, required=True); p.add_argument("--name", required=True)
    p = sub.add_parser("call"); p.add_argument("--target", required=True); p.add_argument("--message", required=True)
    args = parser.parse_args()
    serve(args.port, args.name) if args.command == "serve" else call(args.target, args.message)
