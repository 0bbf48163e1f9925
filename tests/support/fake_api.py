"""A small REST API for the tests, run as its own process: `python fake_api.py` prints `PORT <n>`.

Routes (GET unless noted; 7 recorded records served 3 per page):
  /none                      every record as a JSON array
  /page?page=&per_page=      bearer token; {"data": {"items": [...]}, "page": n}
  /offset?offset=&limit=     basic auth; {"results": [...]}
  /cursor?cursor=            api key header X-Api-Key; {"items": [...], "meta": {"next": "c3" | null}}
  /cursor_url?cursor=        like /cursor, but `meta.next` is the absolute URL of the next page
  /link?page=                api key query parameter api_key; JSON array, RFC 8288 Link: rel="next"
  /flaky429                  first request 429 with Retry-After: 1, then every record
  /flaky500                  first request 500, then every record
  /unauthorized              401 with a JSON error body
  /slow                      answers after 3 seconds
  /always503                 503 every time
  /offsite                   a Link rel="next" to another host
  /_stats                    {path: number of requests}
  POST /_reset               forget the counts
"""
from __future__ import annotations

import base64
import json
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "t0ken-Bearer-5ecret"
BASIC = ("etl", "b4sic-Pa55word")
HEADER_KEY = "hdr-Key-9876"
QUERY_KEY = "q/Key+with&odd=chars"
SIZE = 3

RECORDS: list[dict[str, Any]] = [
    {
        "id": i,
        "name": f"item {i}",
        "address": {"city": ["Oslo", "Lima", "Pune"][i % 3], "geo": {"lat": 10.5 + i}},
        "tags": ["a", "b"][: i % 3],
        "score": i * 1.5 if i % 2 else i,
    }
    for i in range(1, 8)
]

_counts: Counter[str] = Counter()
_lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        if self.path == "/_reset":
            with _lock:
                _counts.clear()
            self._send(200, {"ok": True})
        else:
            self._send(404, {"error": "not found"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.query_lists = parse_qs(parts.query)
        route = parts.path.strip("/") or "none"
        if route != "_stats":
            with _lock:
                _counts[parts.path] += 1
                self.count = _counts[parts.path]
        handler = getattr(self, f"route_{route}", None)
        if handler is None:
            self._send(404, {"error": f"no route {parts.path}"})
            return
        handler(query)

    # --- helpers -------------------------------------------------------------------------------

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _denied(self) -> None:
        self._send(401, {"error": "missing or wrong credentials"})

    def _base(self) -> str:
        return f"http://{self.headers['Host']}"

    # --- routes ----------------------------------------------------------------------------------

    def route__stats(self, _: dict[str, str]) -> None:
        with _lock:
            self._send(200, dict(_counts))

    def route_none(self, _: dict[str, str]) -> None:
        self._send(200, RECORDS)

    def route_page(self, q: dict[str, str]) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._denied()
        page, size = int(q.get("page", 1)), int(q.get("per_page", SIZE))
        self._send(200, {"data": {"items": RECORDS[(page - 1) * size : page * size]}, "page": page})

    def route_offset(self, q: dict[str, str]) -> None:
        expected = "Basic " + base64.b64encode(f"{BASIC[0]}:{BASIC[1]}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._denied()
        offset, limit = int(q.get("offset", 0)), int(q.get("limit", SIZE))
        self._send(200, {"results": RECORDS[offset : offset + limit]})

    def route_cursor(self, q: dict[str, str], as_url: bool = False) -> None:
        if self.headers.get("X-Api-Key") != HEADER_KEY:
            return self._denied()
        start = int(q.get("cursor", "c0")[1:])
        end = start + SIZE
        nxt = f"c{end}" if end < len(RECORDS) else None
        if nxt and as_url:
            nxt = f"{self._base()}/cursor_url?{urlencode({'cursor': nxt})}"
        self._send(200, {"items": RECORDS[start:end], "meta": {"next": nxt}})

    def route_cursor_url(self, q: dict[str, str]) -> None:
        self.route_cursor(q, as_url=True)

    def route_link(self, q: dict[str, str]) -> None:
        if self.query_lists.get("api_key") != [QUERY_KEY]:  # exactly once
            return self._denied()
        page = int(q.get("page", 1))
        headers = {}
        if page * SIZE < len(RECORDS):
            nxt = f"{self._base()}/link?{urlencode({'page': page + 1, 'api_key': QUERY_KEY})}"
            headers["Link"] = f'<{nxt}>; rel="next", <{self._base()}/link?page=1>; rel="first"'
        self._send(200, RECORDS[(page - 1) * SIZE : page * SIZE], headers)

    def route_flaky429(self, _: dict[str, str]) -> None:
        if self.count == 1:
            return self._send(429, {"error": "slow down"}, {"Retry-After": "1"})
        self._send(200, RECORDS)

    def route_flaky500(self, _: dict[str, str]) -> None:
        if self.count == 1:
            return self._send(500, {"error": "internal error"})
        self._send(200, RECORDS)

    def route_unauthorized(self, _: dict[str, str]) -> None:
        self._send(401, {"error": "invalid token", "detail": "the token has expired"})

    def route_slow(self, _: dict[str, str]) -> None:
        time.sleep(3)
        self._send(200, RECORDS)

    def route_always503(self, _: dict[str, str]) -> None:
        self._send(503, {"error": "maintenance"})

    def route_offsite(self, _: dict[str, str]) -> None:
        self._send(200, RECORDS[:1], {"Link": '<http://example.invalid/steal>; rel="next"'})


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
