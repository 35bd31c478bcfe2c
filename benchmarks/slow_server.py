"""A loopback OpenAI-compatible chat server that answers every request after a fixed delay.

python benchmarks/slow_server.py PORT [DELAY_SECONDS]
"""

from __future__ import annotations

import asyncio
import sys
import time

from aiohttp import web


def app(delay: float) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(delay)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        return web.json_response(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "Paris is the capital of France."},
                    }
                ],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 7, "total_tokens": prompt_tokens + 7},
            }
        )

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "slow", "object": "model"}]})

    application = web.Application()
    application.add_routes([web.post("/v1/chat/completions", chat), web.get("/v1/models", models)])
    return application


if __name__ == "__main__":
    import uvloop

    uvloop.install()  # the server should not be the bottleneck of a client benchmark
    web.run_app(
        app(float(sys.argv[2]) if len(sys.argv) > 2 else 0.2),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        print=None,
        backlog=1024,
    )
