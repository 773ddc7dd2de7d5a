"""A TCP proxy on loopback that adds a fixed delay to each request/response turn, so that a local
service (Azurite, say) answers like one a network away. It runs as its own process, so its work
does not compete with the client being measured.

    python -m sandbox.latency_proxy --upstream 127.0.0.1:10000 --delay-ms 10 --port 10100
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


async def _pipe(reader, writer, turn: asyncio.Event, delay_s: float, answers: bool) -> None:
    try:
        while chunk := await reader.read(65536):
            if answers and turn.is_set():
                turn.clear()
                await asyncio.sleep(delay_s)  # one round trip per request
            elif not answers:
                turn.set()
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def serve(host: str, port: int, upstream_host: str, upstream_port: int, delay_s: float) -> None:
    async def handle(client_reader, client_writer) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(upstream_host, upstream_port)
        except OSError:
            client_writer.close()
            return
        turn = asyncio.Event()
        await asyncio.gather(_pipe(client_reader, upstream_writer, turn, delay_s, answers=False),
                             _pipe(upstream_reader, client_writer, turn, delay_s, answers=True))

    server = await asyncio.start_server(handle, host, port)
    async with server:
        await server.serve_forever()


@dataclass
class LatencyProxy:
    upstream_host: str
    upstream_port: int
    delay_s: float
    host: str = "127.0.0.1"
    port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> "LatencyProxy":
        from sandbox.azurite import wait_for_port, free_port

        self.port = self.port or free_port(self.host)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.latency_proxy", "--listen", f"{self.host}:{self.port}",
             "--upstream", f"{self.upstream_host}:{self.upstream_port}", "--delay-ms", str(self.delay_s * 1000)],
            cwd=Path(__file__).resolve().parent.parent)
        wait_for_port(self.host, self.port, self.process, timeout=10)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def __enter__(self) -> "LatencyProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", required=True, help="host:port to listen on")
    parser.add_argument("--upstream", required=True, help="host:port to forward to")
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    upstream_host, upstream_port = args.upstream.rsplit(":", 1)
    try:
        asyncio.run(serve(host, int(port), upstream_host, int(upstream_port), args.delay_ms / 1000))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
