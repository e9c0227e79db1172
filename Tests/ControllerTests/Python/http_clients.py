"""HTTP clients that misbehave, for the controller's endpoint tests.

Each mode talks raw HTTP/1.1 over TCP to 127.0.0.1:PORT and prints one JSON object:

  pipeline PORT            two requests in one write; the answers, in order
  body PORT                a request with a body; the status and whether the server closed
  slowhead PORT SECONDS    a request head sent a byte every 0.5 s; when the server closed
  idle PORT SECONDS        one request, then nothing; when the server closed after the answer
  hold PORT N PATH         N connections each asking PATH once and kept open; the statuses,
                           then the status of /healthz and of PATH on one more connection
  attack PORT SECONDS      the whole attack while probing /healthz every second with a fresh
                           connection and a 2 s timeout: 32 sockets that send a GET and then a
                           request announcing a 16,000-byte body, a byte every 10 s; 32 kept-alive
                           sockets with one GET every 10 s (both reconnect when closed); 4 clients
                           fetching / back to back. Prints the probes' outcomes and the flood's
                           answers.
"""

import asyncio
import json
import sys
import time

HOST = "127.0.0.1"


def request(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: controller\r\n{extra}\r\n".encode()


async def read_response(reader, timeout=10.0):
    """One response: (status, body bytes); None when the connection closes first."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
    return status, body


async def closed_within(reader, seconds):
    """Seconds until the server closes (EOF or reset), or None if it stays open that long."""
    started = time.monotonic()
    try:
        while True:
            left = seconds - (time.monotonic() - started)
            if left <= 0:
                return None
            data = await asyncio.wait_for(reader.read(65536), left)
            if not data:
                return time.monotonic() - started
    except asyncio.TimeoutError:
        return None
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - started


async def pipeline(port):
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(request("/healthz") + request("/nothing-here"))
    await writer.drain()
    answers = []
    for _ in range(2):
        try:
            status, body = await read_response(reader, 5)
            answers.append({"status": status, "body": body.decode()})
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as error:
            answers.append({"error": type(error).__name__})
    writer.close()
    return {"answers": answers}


async def body(port):
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(b"POST /status HTTP/1.1\r\nHost: controller\r\nContent-Length: 16000\r\n\r\nx")
    await writer.drain()
    try:
        status, _ = await read_response(reader, 5)
    except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as error:
        status = type(error).__name__
    closed = await closed_within(reader, 5)
    writer.close()
    return {"status": status, "closedAfter": closed}


async def slowhead(port, seconds):
    reader, writer = await asyncio.open_connection(HOST, port)
    started = time.monotonic()
    text = request("/status")
    sent = 0
    closed = None
    while time.monotonic() - started < seconds:
        try:
            writer.write(text[sent % (len(text) - 4): sent % (len(text) - 4) + 1])
            await writer.drain()
        except ConnectionError:
            closed = time.monotonic() - started
            break
        sent += 1
        waited = await closed_within(reader, 0.5)
        if waited is not None:
            closed = time.monotonic() - started
            break
    writer.close()
    return {"closedAfter": closed, "bytesSent": sent}


async def idle(port, seconds):
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(request("/healthz"))
    await writer.drain()
    status, _ = await read_response(reader, 5)
    closed = await closed_within(reader, seconds)
    writer.close()
    return {"status": status, "closedAfter": closed}


async def hold(port, count, path):
    held = []
    statuses = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request(path))
        await writer.drain()
        try:
            status, _ = await read_response(reader, 5)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as error:
            status = type(error).__name__
        statuses.append(status)
        held.append(writer)
    extra = {}
    for probe in ["/healthz", path]:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request(probe))
        await writer.drain()
        try:
            status, _ = await read_response(reader, 5)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as error:
            status = type(error).__name__
        extra[probe] = status
        writer.close()
    for writer in held:
        writer.close()
    return {"held": statuses, "after": extra}


async def attack(port, seconds):
    deadline = time.monotonic() + seconds
    probes = []
    flood = {"answers": 0, "statuses": {}, "bytes": 0}
    slow_reconnects = [0]

    async def slow_body():
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
                slow_reconnects[0] += 1
                writer.write(request("/healthz"))
                await writer.drain()
                await read_response(reader, 10)
                writer.write(b"GET /status HTTP/1.1\r\nHost: controller\r\nContent-Length: 16000\r\n\r\n")
                await writer.drain()
                while time.monotonic() < deadline:
                    writer.write(b"x")
                    await writer.drain()
                    if await closed_within(reader, min(10, max(0.1, deadline - time.monotonic()))) is not None:
                        break
                writer.close()
                await asyncio.sleep(0.2)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError):
                await asyncio.sleep(0.05)

    async def slow_keepalive():
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
                slow_reconnects[0] += 1
                while time.monotonic() < deadline:
                    writer.write(request("/metrics"))
                    await writer.drain()
                    await read_response(reader, 10)
                    if await closed_within(reader, min(10, max(0.1, deadline - time.monotonic()))) is not None:
                        break
                writer.close()
                await asyncio.sleep(0.2)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError):
                await asyncio.sleep(0.05)

    async def flood_page():
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
                while time.monotonic() < deadline:
                    writer.write(request("/"))
                    await writer.drain()
                    status, body = await read_response(reader, 30)
                    flood["answers"] += 1
                    flood["bytes"] = max(flood["bytes"], len(body))
                    flood["statuses"][str(status)] = flood["statuses"].get(str(status), 0) + 1
                    if status != 200:
                        break
                writer.close()
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError):
                await asyncio.sleep(0.05)

    async def probe():
        await asyncio.sleep(2)
        while time.monotonic() < deadline:
            started = time.monotonic()
            outcome = None
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 2)
                writer.write(request("/healthz", "Connection: close\r\n"))
                await writer.drain()
                status, _ = await read_response(reader, max(0.01, 2 - (time.monotonic() - started)))
                outcome = status
                writer.close()
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
                outcome = type(error).__name__
            probes.append({"outcome": outcome, "seconds": round(time.monotonic() - started, 3)})
            await asyncio.sleep(max(0, 1 - (time.monotonic() - started)))

    tasks = [slow_body() for _ in range(32)] + [slow_keepalive() for _ in range(32)] + [flood_page() for _ in range(4)] + [probe()]
    await asyncio.gather(*tasks)
    return {"probes": probes, "flood": flood, "slowConnections": slow_reconnects[0]}


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "pipeline":
        result = asyncio.run(pipeline(port))
    elif mode == "body":
        result = asyncio.run(body(port))
    elif mode == "slowhead":
        result = asyncio.run(slowhead(port, float(sys.argv[3])))
    elif mode == "idle":
        result = asyncio.run(idle(port, float(sys.argv[3])))
    elif mode == "hold":
        result = asyncio.run(hold(port, int(sys.argv[3]), sys.argv[4]))
    elif mode == "attack":
        result = asyncio.run(attack(port, float(sys.argv[3])))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
