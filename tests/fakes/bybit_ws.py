"""A fake Bybit v5 public WebSocket (``/v5/public/linear``) for pybit's ``WebSocket``: enough of RFC 6455
to accept a connection, answer ``subscribe`` and ``ping`` ops, and push ``tickers.<symbol>`` snapshots and
deltas. ``push(symbol, price)`` sends a delta to every connection subscribed to that symbol.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeBybitStream:
    def __init__(self, prices: dict[str, str] | None = None):
        self.prices = dict(prices or {"BTCUSDT": "60000"})
        self.subscriptions: list[tuple[socket.socket, str]] = []
        self.received: list[dict] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._server.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._server.close()

    def push(self, symbol: str, price: str) -> None:
        self.prices[symbol] = price
        with self._lock:
            targets = [conn for conn, subscribed in self.subscriptions if subscribed == symbol]
        for conn in targets:
            self._send(conn, {"topic": f"tickers.{symbol}", "type": "delta", "ts": int(time.time() * 1000),
                              "data": {"symbol": symbol, "lastPrice": price}})

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        key = next(line.split(":", 1)[1].strip() for line in request.decode().split("\r\n")
                   if line.lower().startswith("sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        conn.sendall(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode())
        try:
            while True:
                opcode, payload = self._read_frame(conn)
                if opcode == 8:  # close
                    conn.sendall(b"\x88\x00")
                    return
                if opcode == 9:  # ping
                    conn.sendall(bytes([0x8A, len(payload)]) + payload)
                elif opcode == 1:
                    self._on_message(conn, json.loads(payload))
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            with self._lock:
                self.subscriptions = [(c, s) for c, s in self.subscriptions if c is not conn]
            conn.close()

    def _on_message(self, conn: socket.socket, message: dict) -> None:
        self.received.append(message)
        if message.get("op") == "ping":
            self._send(conn, {"success": True, "ret_msg": "pong", "conn_id": "fake", "op": "ping"})
        elif message.get("op") == "subscribe":
            self._send(conn, {"success": True, "ret_msg": "", "conn_id": "fake", "req_id": message.get("req_id"),
                              "op": "subscribe"})
            for topic in message.get("args", []):
                symbol = topic.split(".", 1)[1]
                with self._lock:
                    self.subscriptions.append((conn, symbol))
                self._send(conn, {"topic": topic, "type": "snapshot", "ts": int(time.time() * 1000), "cs": 1,
                                  "data": {"symbol": symbol, "lastPrice": self.prices.get(symbol, "1"),
                                           "markPrice": self.prices.get(symbol, "1"), "price24hPcnt": "0.01",
                                           "volume24h": "100"}})

    @staticmethod
    def _read_exact(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _read_frame(self, conn: socket.socket) -> tuple[int, bytes]:
        first, second = self._read_exact(conn, 2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._read_exact(conn, 2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._read_exact(conn, 8))[0]
        mask = self._read_exact(conn, 4) if second & 0x80 else b"\x00" * 4
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read_exact(conn, length)))
        return first & 0x0F, payload

    @staticmethod
    def _send(conn: socket.socket, message: dict) -> None:
        data = json.dumps(message).encode()
        header = bytes([0x81, len(data)]) if len(data) < 126 else bytes([0x81, 126]) + struct.pack(">H", len(data))
        try:
            conn.sendall(header + data)
        except OSError:
            pass
