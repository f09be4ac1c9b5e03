"""A scripted OpenAI-compatible chat server, run inside the test session.

It speaks ``POST /v1/chat/completions`` over real HTTP, so the agent is driven through
langchain-openai and the OpenAI client exactly as against vLLM, Ollama or OpenAI. Each request
takes the next entry of the script:

* ``reply(content=..., calls=[(name, args), ...])``: an assistant message; ``args`` is a dict, or
  a string sent as is (to send arguments that are not valid JSON);
* ``status(code)``: an HTTP error (429 with ``retry-after-ms``, 500, ...);
* ``raw(body, content_type)``: bytes sent as they are, for replies that are not a chat completion;
* ``stall(seconds)``: answer nothing for that long (the client times out), then drop the request;
* ``trickle(reply(...))``: a reply sent one byte at a time (each read gets data, the whole takes long);
* ``reset_mid_body()``: half a reply, then the connection is dropped;
* ``gzip_header()``: a plain JSON body labelled ``Content-Encoding: gzip``;
* ``reply(..., usage={...}, finish_reason="length")``: bad usage numbers, a reply cut at the token limit.

Instead of a script, ``responder(body)`` may choose each answer from the request (for clips
captioned at once, whose requests come in any order); ``delay`` seconds pass before each answer
(a server that takes that long per reply), and ``peak`` is the most requests it held at once.

Every request body is kept in ``requests`` for the test to inspect. ``usage`` in each answer
estimates prompt tokens as a quarter of the characters of the text parts (images are counted
apart, in ``images_seen``), since no tokenizer files can be downloaded here.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def reply(content: str = "", calls: list[tuple[str, Any]] | None = None, *, usage: dict | None = None,
          finish_reason: str | None = None) -> dict:
    """``usage``: the usage object sent instead of the estimate (bad numbers: "many", NaN, -5);
    ``finish_reason``: sent instead of "stop" / "tool_calls" (e.g. "length": cut at the token limit)."""
    return {"kind": "reply", "content": content, "calls": calls or [], "usage": usage, "finish_reason": finish_reason}


def trickle(item: dict, every: float = 0.2) -> dict:
    """``item`` (a reply) sent one byte every ``every`` seconds: each read gets data, the whole takes long."""
    return {"kind": "trickle", "item": item, "every": every}


def reset_mid_body(item: dict | None = None) -> dict:
    """The headers and half of ``item``'s body, then the connection is dropped."""
    return {"kind": "reset", "item": item or reply("cut")}


def gzip_header(item: dict | None = None) -> dict:
    """``item``'s plain JSON body sent with ``Content-Encoding: gzip``."""
    return {"kind": "gzip_header", "item": item or reply("plain")}


def status(code: int, message: str = "scripted error") -> dict:
    return {"kind": "status", "code": code, "message": message}


def stall(seconds: float) -> dict:
    return {"kind": "stall", "seconds": seconds}


def raw(body: bytes | str, content_type: str = "application/json", code: int = 200) -> dict:
    """Send ``body`` as it is: HTML, invalid UTF-8, an empty body, an SSE stream, a JSON of the wrong shape."""
    return {"kind": "raw", "body": body.encode() if isinstance(body, str) else body, "content_type": content_type,
            "code": code}


def text_tokens(body: dict) -> tuple[int, int]:
    """(estimated text tokens, image parts) of a chat request."""
    chars, images = 0, 0
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "text":
                    chars += len(part.get("text", ""))
                elif part.get("type") == "image_url":
                    images += 1
        for call in m.get("tool_calls") or []:
            chars += len(json.dumps(call))
    chars += len(json.dumps(body.get("tools", [])))
    return chars // 4, images


class ScriptedOpenAI:
    def __init__(self, script: list[dict] | None = None, responder=None, delay: float = 0.0):
        self.script = list(script or [])
        self.responder = responder
        self.delay = delay
        self.in_flight = 0
        self.peak = 0
        self.requests: list[dict] = []
        self.prompt_tokens = 0
        self.images_seen = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "ScriptedOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def left(self) -> int:
        return len(self.script)

    def _next(self, body: dict) -> dict:
        with self._lock:
            self.requests.append(body)
            if self.responder is not None:
                return self.responder(body)
            if not self.script:
                return status(500, "the script has no more replies")
            return self.script.pop(0)

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _send(self, code: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server._lock:
                    server.in_flight += 1
                    server.peak = max(server.peak, server.in_flight)
                try:
                    if server.delay:
                        time.sleep(server.delay)
                    item = server._next(body)
                    self._answer(item, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, item: dict, body: dict) -> None:
                if item["kind"] in ("trickle", "reset", "gzip_header"):
                    self._broken(item, body)
                    return
                if item["kind"] == "stall":
                    time.sleep(item["seconds"])
                    self.close_connection = True
                    return
                if item["kind"] == "raw":
                    self.send_response(item["code"])
                    self.send_header("Content-Type", item["content_type"])
                    self.send_header("Content-Length", str(len(item["body"])))
                    self.end_headers()
                    self.wfile.write(item["body"])
                    return
                if item["kind"] == "status":
                    self._send(item["code"], {"error": {"message": item["message"], "type": "scripted"}},
                               {"retry-after-ms": "10"})
                    return
                self._send(200, self._completion(item, body))

            def _completion(self, item: dict, body: dict) -> dict:
                tokens, images = text_tokens(body)
                with server._lock:
                    server.prompt_tokens += tokens
                    server.images_seen += images
                calls = [{"id": f"call_{len(server.requests)}_{i}", "type": "function",
                          "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                         for i, (name, args) in enumerate(item["calls"])]
                message: dict[str, Any] = {"role": "assistant", "content": item["content"]}
                if calls:
                    message["tool_calls"] = calls
                completion = (len(item["content"]) + sum(len(c["function"]["arguments"]) for c in calls)) // 4
                usage = item.get("usage") or {"prompt_tokens": tokens, "completion_tokens": completion,
                                              "total_tokens": tokens + completion}
                finish = item.get("finish_reason") or ("tool_calls" if calls else "stop")
                return {"id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion",
                        "created": int(time.time()), "model": body.get("model", "scripted"),
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}

            def _broken(self, item: dict, body: dict) -> None:
                data = json.dumps(self._completion(item["item"], body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if item["kind"] == "gzip_header":
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                if item["kind"] == "gzip_header":
                    self.wfile.write(data)
                elif item["kind"] == "reset":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # dropped mid-body
                else:
                    try:
                        for i in range(len(data)):
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                            time.sleep(item["every"])
                    except OSError:  # the client gave up: as it should
                        self.close_connection = True

        return Handler


MEASURING_TOOLS = ("read_metadata", "estimate_camera_motion", "detect_instances", "segment_and_blur",
                   "describe_background")


def video_of(body: dict) -> str | None:
    """The clip a chat request is about, from its opening message ("Video file: NAME")."""
    import re

    for m in body.get("messages", []):
        if m.get("role") != "user":
            continue
        content = m.get("content")
        text = content if isinstance(content, str) else " ".join(
            p.get("text", "") for p in content or [] if p.get("type") == "text")
        found = re.search(r"Video file: (\S+)", text)
        if found:
            return found.group(1)
    return None


def caption_responder(captions: dict[str, dict], fail_first: dict[str, int] | None = None):
    """A responder for clips captioned at once: a clip's first request gets the measuring tools
    called, the next one its caption (``captions`` by file name) submitted. ``fail_first``: a
    clip's first requests get that many HTTP 429s. ``served`` counts the captions sent per clip."""
    from collections import Counter

    served: Counter = Counter()
    failures = dict(fail_first or {})

    def respond(body: dict) -> dict:
        video = video_of(body)
        if failures.get(video, 0) > 0:
            failures[video] -= 1
            return status(429, "slow down")
        if not any(m.get("role") == "tool" for m in body.get("messages", [])):
            return reply("Measuring first.", [(name, {}) for name in MEASURING_TOOLS])
        served[video] += 1
        return reply("", [("submit_caption", captions[video])])

    respond.served = served
    return respond
