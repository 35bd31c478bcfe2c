"""A loopback OpenAI-compatible chat completions server that fails on request.

Each request to `/v1/chat/completions` gets the next behaviour of a script (one for all models, or one per
model name), else a random fault (`fault_rate`, seeded), else `default`. Behaviours: `ok`, `slow` (answers
after `slow_s`), `429` (with `Retry-After`), `500` (whose body quotes the request's Authorization header),
`401` (the same), `hang`, `malformed` (a 200 whose body is not JSON), `empty` (a 200 with `choices: []`), `echo` (an answer
that repeats the bearer token the request carried, as a careless proxy would). Every request is recorded
(time, model, behaviour, body), so tests measure waits from the server's side.

    with FaultServer(script=["429", "ok"], retry_after=1) as server:
        server.url   # http://127.0.0.1:<port>/v1
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

FAULTS = ("429", "500", "hang", "malformed", "empty")


@dataclass(frozen=True)
class Request:
    at: float  # time.monotonic() when it arrived
    model: str
    behaviour: str
    authorization: str
    body: dict


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the stdlib's 5 drops connections when a run opens 20 at once


class FaultServer:
    """`script`: behaviours for the first requests in order (a list), or per model name (a dict); then
    `fault_rate` of random `faults` (seeded), else `default`. `answer(model, question)` writes answers."""

    def __init__(
        self,
        script: list[str] | dict[str, list[str]] | None = None,
        fault_rate: float = 0.0,
        faults: tuple[str, ...] = FAULTS,
        default: str = "ok",
        retry_after: float | str | Callable[[], str] = 1,
        seed: int = 0,
        hang_s: float = 30.0,
        slow_s: float = 0.5,
        answer: Callable[[str, str], str] | None = None,
    ):
        self.script = (
            {k: list(v) for k, v in script.items()} if isinstance(script, dict) else {None: list(script or [])}
        )
        self.fault_rate, self.faults, self.default = fault_rate, faults, default
        self.retry_after, self.hang_s, self.slow_s = retry_after, hang_s, slow_s
        self.answer = answer or (lambda model, question: f"An answer to: {question[:60]}")
        self.requests: list[Request] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def behaviours(self, model: str | None = None) -> list[str]:
        return [r.behaviour for r in self.requests if model is None or r.model == model]

    def _next(self, model: str) -> str:
        with self._lock:
            script = self.script.get(model) or self.script.get(None)
            if script:
                return script.pop(0)
            return self._random.choice(self.faults) if self._random.random() < self.fault_rate else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                model = body.get("model", "")
                behaviour = server._next(model)
                authorization = self.headers.get("Authorization", "")
                with server._lock:
                    server.requests.append(Request(time.monotonic(), model, behaviour, authorization, body))
                question = next(
                    (m.get("content", "") for m in reversed(body.get("messages", [])) if m.get("role") == "user"), ""
                )
                if behaviour == "429":
                    self._send(
                        429,
                        {"error": {"message": "Rate limit reached, slow down", "type": "rate_limit"}},
                        {
                            "Retry-After": str(
                                server.retry_after() if callable(server.retry_after) else server.retry_after
                            )
                        },
                    )
                elif behaviour in ("500", "401"):
                    self._send(int(behaviour), {"error": {"message": f"upstream failed for key {authorization}"}})
                elif behaviour == "hang":
                    server._stop.wait(server.hang_s)
                    self._send(504, {"error": {"message": "gave up hanging"}})
                elif behaviour == "malformed":
                    self._send(200, b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "tru', raw=True)
                elif behaviour == "empty":
                    self._send(200, completion(model, None, body))
                else:
                    if behaviour == "slow":
                        server._stop.wait(server.slow_s)
                    text = server.answer(model, question)
                    if behaviour == "echo":
                        text = f"{text} (you sent {authorization}; your key is {authorization.removeprefix('Bearer ')})"
                    self._send(200, completion(model, text, body))

            def _send(self, status: int, payload, headers: dict[str, str] | None = None, raw: bool = False) -> None:
                data = payload if raw else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout): nothing to answer
                    pass

        return Handler


def completion(model: str, text: str | None, request: dict) -> dict:
    """An OpenAI chat completion; `text=None` gives one with no choices. Output tokens follow max_tokens."""
    words = (text or "").split()
    limit = request.get("max_tokens") or request.get("max_completion_tokens")
    if limit:
        words = words[:limit]
    choices = (
        []
        if text is None
        else [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": " ".join(words)}}]
    )
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        },
    }
