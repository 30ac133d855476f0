"""A loopback web-search server for tests and offline demos.

It answers in each provider's documented format (Bing v7, Brave, Serper, SearxNG and
DuckDuckGo's HTML page) and serves the pages its results link to, so the web tools can be
exercised end to end with no network. Faults are switched on per server: ``slow`` (answer after
``delay`` seconds), ``error`` (HTTP 500) and ``malformed`` (a body that is not the promised
format).
"""

from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional
from urllib.parse import parse_qs, quote, urlparse


@dataclass
class Page:
    """A page the server hosts at ``/pages/<slug>``."""

    slug: str
    title: str
    snippet: str
    body: str


DEFAULT_PAGES = [
    Page(
        "solar",
        "Solar capacity in 2024",
        "Solar power capacity grew strongly in 2024.",
        "Solar power capacity grew by 30 percent in 2024. Germany added 15 gigawatts, "
        "China added 250 gigawatts and the United States added 40 gigawatts.",
    ),
    Page(
        "wind",
        "Wind capacity in 2024",
        "Wind power added new turbines worldwide.",
        "Wind power capacity grew by 10 percent in 2024, led by offshore projects.",
    ),
    Page(
        "video",
        "A video about energy",
        "Watch this.",
        "Only a video player.",
    ),
]


class SearchServer:
    """Serve search answers and pages on ``127.0.0.1`` from a background thread.

    Use it as a context manager, or ``start()`` / ``stop()`` it (a notebook keeps it running).
    ``endpoint(provider)`` gives the URL to hand to a searcher, ``page_url(slug)`` the URL of a
    hosted page; ``requests`` records ``(method, path, headers)``.
    """

    def __init__(self, pages: Optional[List[Page]] = None, delay: float = 5.0) -> None:
        self.pages = list(DEFAULT_PAGES if pages is None else pages)
        self.delay = delay
        self.fault: Optional[str] = None
        self.requests: List[tuple] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def endpoint(self, provider: str) -> str:
        paths = {
            "bing": "/bing/v7.0/search",
            "brave": "/brave/res/v1/web/search",
            "serper": "/serper/search",
            "searxng": "/searxng",
            "duckduckgo": "/ddg/html/",
        }
        return self.base_url + paths[provider]

    def page_url(self, slug: str) -> str:
        return f"{self.base_url}/pages/{slug}"

    def start(self) -> SearchServer:
        """Serve from a daemon thread; returns ``self`` so ``SearchServer().start()`` reads."""
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SearchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answers in each provider's format ------------------------------------------------------
    def _hits(self) -> List[dict]:
        hits = [
            {"url": self.page_url(p.slug), "title": p.title, "snippet": p.snippet}
            for p in self.pages
        ]
        hits.append({"url": "https://www.youtube.com/watch?v=x", "title": "Video", "snippet": ""})
        return hits

    def answer(self, path: str) -> tuple[str, bytes]:
        hits = self._hits()
        if path.startswith("/bing/"):
            items = [{"name": h["title"], "url": h["url"], "snippet": h["snippet"]} for h in hits]
            return "application/json", json.dumps({"webPages": {"value": items}}).encode()
        if path.startswith("/brave/"):
            items = [
                {"title": h["title"], "url": h["url"], "description": h["snippet"]} for h in hits
            ]
            return "application/json", json.dumps({"web": {"results": items}}).encode()
        if path.startswith("/serper/"):
            items = [{"title": h["title"], "link": h["url"], "snippet": h["snippet"]} for h in hits]
            return "application/json", json.dumps({"organic": items}).encode()
        if path.startswith("/searxng"):
            items = [{"title": h["title"], "url": h["url"], "content": h["snippet"]} for h in hits]
            return "application/json", json.dumps({"results": items}).encode()
        if path.startswith("/ddg/"):
            rows = "".join(
                f'<div class="result"><a class="result__a" href="/l/?uddg={quote(h["url"])}">'
                f'{html.escape(h["title"])}</a><a class="result__snippet">'
                f"{html.escape(h['snippet'])}</a></div>"
                for h in hits
            )
            return "text/html", f"<html><body>{rows}</body></html>".encode()
        raise KeyError(path)

    def page(self, slug: str) -> bytes:
        for p in self.pages:
            if p.slug == slug:
                paragraphs = "".join(f"<p>{html.escape(s)}.</p>" for s in p.body.split(". "))
                return (
                    f"<html><head><title>{html.escape(p.title)}</title></head><body>"
                    "<nav>Home | About | Contact</nav>"
                    f"<article><h1>{html.escape(p.title)}</h1>{paragraphs}</article>"
                    "<footer>Copyright</footer></body></html>"
                ).encode()
        raise KeyError(slug)

    def _handler_class(self) -> type:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, kind: str, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to tell it

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                url = urlparse(self.path)
                server.requests.append((self.command, self.path, dict(self.headers)))
                if server.fault == "slow":
                    time.sleep(server.delay)
                if server.fault == "error":
                    return self._send(500, "text/plain", b"internal error")
                try:
                    if url.path.startswith("/pages/"):
                        kind, body = "text/html; charset=utf-8", server.page(url.path[7:])
                    else:
                        kind, body = server.answer(url.path)
                except KeyError:
                    return self._send(404, "text/plain", b"not found")
                if server.fault == "malformed":
                    body = body[: len(body) // 2]
                self._send(200, kind, body)

            do_GET = _serve
            do_POST = _serve

        return Handler


def query_of(path: str) -> Dict[str, List[str]]:
    """The query parameters of a recorded request path."""
    return parse_qs(urlparse(path).query)
