#!/usr/bin/python3
"""An independent HBONE client (Python's ssl + the h2 package), to check ferryd's
:15008 against something that is not Ferry.

  hbone_client.py --agent IP:15008 --authority IP:PORT [--cert C --key K] [--ca CA]
                  [--method CONNECT] [--send TEXT | --http-get PATH] [--garbage]
Prints one of: "STATUS <code> <reason>", then the tunnelled reply; "TLS-REFUSED <why>";
"GOAWAY <error code>"; "CLOSED". Exit 0 only for a 200 with a reply."""
import argparse
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--agent", required=True)
    p.add_argument("--authority", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--method", default="CONNECT")
    p.add_argument("--send", default="ping")
    p.add_argument("--http-get", help="send an HTTP/1.1 GET of this path through the tunnel instead of --send")
    p.add_argument("--garbage", action="store_true", help="send invalid HTTP/2 frames after the preface")
    p.add_argument("--header", action="append", default=[], help="an extra CONNECT header, name:value")
    args = p.parse_args()
    if args.http_get:
        args.send = f"GET {args.http_get} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n"

    host, port = args.agent.rsplit(":", 1)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    if args.ca:
        context.load_verify_locations(args.ca)
    else:
        context.verify_mode = ssl.CERT_NONE
    if args.cert:
        context.load_cert_chain(args.cert, args.key)
    context.set_alpn_protocols(["h2"])

    raw = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
    try:
        tls = context.wrap_socket(raw)
    except (ssl.SSLError, OSError) as error:
        print(f"TLS-REFUSED {error}", flush=True)
        return 2
    print(f"TLS {tls.version()}", flush=True)

    # h2 insists on :path even for CONNECT (RFC 9113 §8.5 forbids it): skip its outbound check.
    conn = h2.connection.H2Connection(h2.config.H2Configuration(
        client_side=True, header_encoding="utf-8", validate_outbound_headers=False))
    conn.initiate_connection()
    try:
        tls.sendall(conn.data_to_send())
        if args.garbage:
            # A DATA frame on stream 0 and a frame of an absurd length: both protocol errors.
            tls.sendall(b"\x00\x00\x04\x00\x00\x00\x00\x00\x00abcd" + b"\xff\xff\xff\x01\x00\x00\x00\x00\x01")
        else:
            stream = conn.get_next_available_stream_id()
            # Bytes, not str: h2 recognises CONNECT (no :path, no :scheme) only so.
            headers = [(b":method", args.method.encode()), (b":authority", args.authority.encode())]
            if args.method != "CONNECT":
                headers += [(b":scheme", b"https"), (b":path", b"/")]
            headers += [tuple(h.encode().split(b":", 1)) for h in args.header]
            conn.send_headers(stream, headers)
            tls.sendall(conn.data_to_send())
    except (ssl.SSLError, OSError) as error:
        # TLS 1.3 servers refuse client certificates after the handshake returns.
        print(f"TLS-REFUSED {error}", flush=True)
        return 2

    reply = b""
    status = None
    while True:
        try:
            data = tls.recv(65536)
        except ssl.SSLError as error:
            print(f"TLS-REFUSED {error}", flush=True)
            return 2
        except OSError as error:
            print(f"CLOSED {error}", flush=True)
            return 3
        if not data:
            print("CLOSED", flush=True)
            return 3 if status is None else (0 if status == "200" and reply else 1)
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                fields = dict(event.headers)
                status = fields.get(":status")
                print(f"STATUS {status} {fields.get('ferry-reason', '')}".rstrip(), flush=True)
                if status == "200":
                    conn.send_data(event.stream_id, args.send.encode(), end_stream=True)
            elif isinstance(event, h2.events.DataReceived):
                reply += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                if reply:
                    print(reply.decode(errors="replace"), flush=True)
                return 0 if status == "200" and reply else 1
            elif isinstance(event, h2.events.StreamReset):
                print(f"RESET {event.error_code}", flush=True)
                return 1
            elif isinstance(event, h2.events.ConnectionTerminated):
                print(f"GOAWAY {event.error_code}", flush=True)
                return 4
        pending = conn.data_to_send()
        if pending:
            tls.sendall(pending)


if __name__ == "__main__":
    sys.exit(main())
