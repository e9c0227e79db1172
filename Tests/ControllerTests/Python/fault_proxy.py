"""Fault-injecting proxies for the failover tests: one in front of moto per controller, and one
in front of PostgreSQL for the controller whose network is cut.

  http --upstream URL --label NAME --port P
      An HTTP/1.1 proxy in front of moto. Every request is forwarded as it came (SigV4 signs
      the Host header, so every header passes unchanged) and recorded: the controller it came
      from (the label), the action of its X-Amz-Target, the service and desiredCount of an
      UpdateService, and when it was received, forwarded and answered (Unix time).
      Control paths, never forwarded:
        POST /_proxy/hold {"target": "UpdateService", "seconds": 8}
             holds every request for that action that long before forwarding it, or until
             released when "seconds" is null. A held request whose client hangs up (its
             deadline passed) is never forwarded: it is recorded as dropped. That is the
             promise the controller's write deadline relies on: a write it abandoned does not
             land later.
        POST /_proxy/release   forwards every held request now and stops holding
        GET  /_proxy/records   every record so far, as a JSON list

  tcp --upstream HOST:PORT --port P
      A TCP proxy in front of PostgreSQL. SIGUSR1 cuts it: every connection, open or new, stays
      open and passes nothing either way (what a partition looks like to both ends); SIGUSR2
      lets the bytes flow again.
"""
import argparse
import http.client
import json
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

# Headers that belong to one hop, not to the request.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class Recorder:
    def __init__(self, label):
        self.label = label
        self.condition = threading.Condition()
        self.records = []
        self.hold_target = None
        self.hold_seconds = None
        self.releases = 0

    def snapshot(self, target=None):
        with self.condition:
            return [dict(record) for record in self.records if target is None or record["target"] == target]


def client_gone(connection):
    """True when the client closed its end (read side at EOF or reset)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        if not readable:
            return False
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def http_proxy(args):
    upstream = urlparse(args.upstream)
    recorder = Recorder(args.label)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *arguments):
            pass

        def do_GET(self):
            self.dispatch()

        def do_POST(self):
            self.dispatch()

        def reply(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def dispatch(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlparse(self.path)
            if path.path == "/_proxy/records":
                target = None
                if path.query.startswith("target="):
                    target = path.query[len("target="):]
                return self.reply(200, recorder.snapshot(target))
            if path.path == "/_proxy/hold":
                order = json.loads(body or b"{}")
                with recorder.condition:
                    recorder.hold_target = order.get("target", "UpdateService")
                    recorder.hold_seconds = order.get("seconds")
                return self.reply(200, {"holding": recorder.hold_target, "seconds": recorder.hold_seconds})
            if path.path == "/_proxy/release":
                with recorder.condition:
                    recorder.hold_target = None
                    recorder.releases += 1
                    recorder.condition.notify_all()
                return self.reply(200, {"released": True})
            self.forward(body)

        def forward(self, body):
            target = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
            record = {"label": recorder.label, "target": target, "received": time.time(), "held": False,
                      "forwarded": None, "answered": None, "status": None, "dropped": None}
            if target == "UpdateService":
                try:
                    request = json.loads(body)
                    record["service"] = request.get("service")
                    record["desiredCount"] = request.get("desiredCount")
                except ValueError:
                    pass
            with recorder.condition:
                recorder.records.append(record)
                if recorder.hold_target == target:
                    record["held"] = True
                    seconds = recorder.hold_seconds
                    releases = recorder.releases
                    until = None if seconds is None else record["received"] + float(seconds)
                    while True:
                        if recorder.releases != releases or (until is not None and time.time() >= until):
                            break
                        if client_gone(self.connection):
                            record["dropped"] = time.time()
                            self.close_connection = True
                            return
                        recorder.condition.wait(0.05)
                record["forwarded"] = time.time()
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except OSError as error:
                with recorder.condition:
                    record["answered"] = time.time()
                    record["error"] = str(error)
                self.close_connection = True
                return
            finally:
                connection.close()
            with recorder.condition:
                record["answered"] = time.time()
                record["status"] = response.status
            try:
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                # The client gave up while moto answered: the write landed all the same.
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(json.dumps({"listening": args.port, "label": args.label}), flush=True)
    server.serve_forever()


def tcp_proxy(args):
    host, port = args.upstream.rsplit(":", 1)
    flowing = threading.Event()
    flowing.set()

    def cut(*_):
        flowing.clear()
        print(json.dumps({"cut": time.time()}), flush=True)

    def restore(*_):
        flowing.set()
        print(json.dumps({"restored": time.time()}), flush=True)

    signal.signal(signal.SIGUSR1, cut)
    signal.signal(signal.SIGUSR2, restore)

    def pump(source, destination):
        try:
            while True:
                flowing.wait()
                readable, _, _ = select.select([source], [], [], 0.1)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                # Bytes read just as the cut began wait for the end of the cut, as on a wire.
                flowing.wait()
                destination.sendall(data)
        except OSError:
            pass
        for end in (source, destination):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def serve(client):
        try:
            server = socket.create_connection((host, int(port)), timeout=10)
            server.settimeout(None)
        except OSError:
            client.close()
            return
        threading.Thread(target=pump, args=(client, server), daemon=True).start()
        threading.Thread(target=pump, args=(server, client), daemon=True).start()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    print(json.dumps({"listening": args.port, "upstream": args.upstream}), flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("http")
    command.add_argument("--upstream", required=True)
    command.add_argument("--label", required=True)
    command.add_argument("--port", type=int, required=True)
    command = commands.add_parser("tcp")
    command.add_argument("--upstream", required=True)
    command.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        {"http": http_proxy, "tcp": tcp_proxy}[args.command](args)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
