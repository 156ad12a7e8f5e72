"""A fake Slack Web API on 127.0.0.1, for the real `slack_sdk` AsyncWebClient and Bolt.

Serves the methods the bot uses (auth.test, chat.postMessage, chat.update,
chat.postEphemeral, conversations.replies, files.info, views.publish, users.info, and the
streaming methods chat.startStream / chat.appendStream / chat.stopStream with their chunks
recorded per stream), private
file downloads, and `response_url` endpoints. Like Slack: every method answers HTTP 200 with
`{"ok": true, ...}` or `{"ok": false, "error": "..."}`; a bad token is `invalid_auth`; a
rate-limited call is HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`;
`conversations.replies` pages with `response_metadata.next_cursor`; a private file fetched
without the bot token is an HTML login page (HTTP 200), as Slack does.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.base import FakeHTTPService, QuietHandler

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-1-A0TEST-1-test-app-token"
SIGNING_SECRET = "test-signing-secret"
BOT_USER = "UBOT"
TEAM = "T0TEST"
STREAM_TEXT_LIMIT = 12_000  # markdown_text, per call
TASK_STATUSES = ("pending", "in_progress", "complete", "error")


# Slack's published tiers for the methods a run calls, per workspace per minute
TIER_LIMITS = {"chat.startStream": 20, "chat.stopStream": 20, "chat.update": 50,
               "conversations.replies": 50, "chat.appendStream": 100}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)  # when it arrived (benchmarks)


class FakeSlack(FakeHTTPService):
    def __init__(self, *, token: str = BOT_TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.responses: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.files: dict[str, dict[str, Any]] = {}
        self.file_bodies: dict[str, bytes] = {}
        self.downloads: list[tuple[str, str | None]] = []
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.users: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}  # file id -> filename, bytes, shares
        self.streams: dict[str, dict[str, Any]] = {}  # ts -> channel, thread_ts, chunks, state
        self._rate_limits: dict[str, list[int]] = {}
        self._outages: dict[str, tuple[float, int, int]] = {}  # method -> until, status, wait
        self.failing: dict[str, str] = {}  # method -> the error Slack answers with
        self._tiers: dict[str, list[float]] = {}  # method -> per minute, tokens, when
        self.tier_refusals: list[str] = []  # methods refused with 429 for their tier
        self.socket_url: str | None = None  # where apps.connections.open points
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        super().__init__()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # -- scripting -----------------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` calls of `method` answer 429 with Retry-After."""
        self._rate_limits[method] = [times, retry_after]

    def outage(self, method: str, *, seconds: float, status: int = 500,
               retry_after: int = 1) -> None:
        """Every call of `method` in the next `seconds` fails as Slack's edge fails: HTTP
        `status` — 429 with `Retry-After` and Slack's JSON, a 5xx with an HTML page."""
        self._outages[method] = (time.monotonic() + seconds, status, retry_after)

    def enforce_tiers(self, limits: dict[str, int] | None = None) -> None:
        """Rate-limit methods per minute as Slack's tiers do (a workspace may burst up to a
        minute's worth, then gets 429 with Retry-After until the bucket refills)."""
        limits = limits or TIER_LIMITS
        now = time.monotonic()
        self._tiers = {method: [float(n), float(n), now] for method, n in limits.items()}

    def _over_tier(self, method: str) -> int | None:
        """Seconds to wait when `method` is over its tier now (a token taken otherwise)."""
        bucket = self._tiers.get(method)
        if bucket is None:
            return None
        per_minute, tokens, then = bucket
        now = time.monotonic()
        tokens = min(per_minute, tokens + (now - then) * per_minute / 60)
        if tokens < 1:
            bucket[1:] = [tokens, now]
            return max(1, round((1 - tokens) * 60 / per_minute))
        bucket[1:] = [tokens - 1, now]
        return None

    def outage_over(self, method: str) -> bool:
        outage = self._outages.get(method)
        return outage is None or time.monotonic() >= outage[0]

    def add_thread_message(self, channel: str, thread_ts: str, *, user: str, text: str,
                           ts: str | None = None, bot: bool = False) -> str:
        ts = ts or self._next_ts()
        message = {"type": "message", "user": user, "text": text, "ts": ts,
                   "thread_ts": thread_ts}
        if bot:
            message["bot_id"] = "BBOT"
        self.threads[(channel, thread_ts)].append(message)
        return ts

    def add_file(self, file_id: str, name: str, body: bytes, *, user: str,
                 channel: str, url: str | None = None, size: int | None = None) -> None:
        """A file as files.info describes it; its download URL is ours unless `url` says."""
        self.file_bodies[file_id] = body
        self.files[file_id] = {
            "id": file_id, "name": name, "title": name, "user": user,
            "size": len(body) if size is None else size, "filetype": name.rsplit(".", 1)[-1],
            "mimetype": "application/zip" if name.endswith(".zip") else "text/x-python",
            "url_private": url or f"{self.url}/files-pri/{TEAM}-{file_id}/{name}",
            "url_private_download": url or f"{self.url}/files-pri/{TEAM}-{file_id}/download/"
                                           f"{name}",
            "channels": [channel], "shares": {"public": {channel: [{"ts": "1700000000.000100"}]}},
        }

    # -- what the bot did ----------------------------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == method]

    def posted_texts(self, channel: str | None = None) -> list[str]:
        return [c["text"] for c in self.calls_to("chat.postMessage")
                if channel is None or c.get("channel") == channel]

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        """Poll until `predicate()` is truthy (the bot works in the background)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("timed out waiting for the bot")

    # -- Web API ---------------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"1700000{next(self._ts):03d}.000200"

    def _api(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method in self.failing:
            return {"ok": False, "error": self.failing[method]}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(args)

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "bot",
                "team_id": TEAM, "user_id": BOT_USER, "bot_id": "BBOT",
                "is_enterprise_install": False}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        if len(args.get("blocks") or []) > 50:
            return {"ok": False, "error": "invalid_blocks"}
        ts = self._next_ts()
        message = {"type": "message", "user": BOT_USER, "bot_id": "BBOT",
                   "text": args.get("text", ""), "ts": ts}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
            self.threads[(args["channel"], args["thread_ts"])].append(message)
        return {"ok": True, "channel": args["channel"], "ts": ts, "message": message}

    # -- streaming (docs.slack.dev/reference/methods/chat.startStream and friends) ---------

    def _stream_chunks(self, args: dict[str, Any]) -> list[dict[str, Any]] | str:
        """The call's chunks (markdown_text counts as one), or the error Slack answers."""
        chunks = list(args.get("chunks") or [])
        if args.get("markdown_text"):
            chunks.insert(0, {"type": "markdown_text", "text": args["markdown_text"]})
        for chunk in chunks:
            kind = chunk.get("type")
            if kind not in ("markdown_text", "task_update", "plan_update", "blocks"):
                return "invalid_chunks"
            if kind == "markdown_text" and len(chunk.get("text") or "") > STREAM_TEXT_LIMIT:
                return "msg_too_long"
            if kind == "task_update" and (not chunk.get("id") or not chunk.get("title") or
                                          chunk.get("status") not in TASK_STATUSES):
                return "invalid_chunks"
        return chunks

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel") or ""
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not channel.startswith("D") and not (args.get("recipient_user_id")
                                                and args.get("recipient_team_id")):
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {
                "messages": ["[ERROR] recipient_user_id and recipient_team_id are required "
                             "when streaming to channels"]}}
        chunks = self._stream_chunks(args)
        if isinstance(chunks, str):
            return {"ok": False, "error": chunks}
        ts = self._next_ts()
        self.streams[ts] = {"channel": channel, "thread_ts": args.get("thread_ts"),
                            "recipient": args.get("recipient_user_id"), "chunks": chunks,
                            "calls": 1, "state": "streaming", "blocks": None}
        if args.get("thread_ts"):  # the message is in the thread from the start
            self.threads[(channel, args["thread_ts"])].append(
                {"type": "message", "user": BOT_USER, "bot_id": "BBOT", "text": "", "ts": ts,
                 "thread_ts": args["thread_ts"]})
        return {"ok": True, "channel": channel, "ts": ts}

    def _stream(self, args: dict[str, Any]) -> dict[str, Any] | str:
        stream = self.streams.get(args.get("ts") or "")
        if stream is None or stream["channel"] != args.get("channel"):
            return "message_not_found"
        if stream["state"] != "streaming":
            return "message_not_in_streaming_state"
        return stream

    def _stream_call(self, args: dict[str, Any]
                     ) -> tuple[dict[str, Any], list[dict[str, Any]]] | dict[str, Any]:
        """The stream and the call's chunks, or the error answer."""
        stream = self._stream(args)
        if isinstance(stream, str):
            return {"ok": False, "error": stream}
        chunks = self._stream_chunks(args)
        if isinstance(chunks, str):
            return {"ok": False, "error": chunks}
        return stream, chunks

    def _m_chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self._stream_call(args)
        if isinstance(found, dict):
            return found
        stream, chunks = found
        if not chunks:
            return {"ok": False, "error": "no_text"}
        stream["chunks"] += chunks
        stream["calls"] += 1
        return {"ok": True, "channel": stream["channel"], "ts": args["ts"]}

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        found = self._stream_call(args)
        if isinstance(found, dict):
            return found
        stream, chunks = found
        stream["chunks"] += chunks
        stream.update(state="stopped", blocks=args.get("blocks"), calls=stream["calls"] + 1)
        text = "".join(c.get("text", "") for c in stream["chunks"]
                       if c.get("type") == "markdown_text")
        for message in self.threads.get((stream["channel"], stream["thread_ts"] or ""), []):
            if message["ts"] == args["ts"]:
                message["text"] = text
        return {"ok": True, "channel": stream["channel"], "ts": args["ts"],
                "message": {"text": text, "ts": args["ts"]}}

    def stream_text(self, ts: str) -> str:
        return "".join(c.get("text", "") for c in self.streams[ts]["chunks"]
                       if c.get("type") == "markdown_text")

    def tasks(self, ts: str) -> list[dict[str, Any]]:
        return [c for c in self.streams[ts]["chunks"] if c.get("type") == "task_update"]

    # -- the agent view (assistant.threads.*) --------------------------------------------

    def _m_assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        prompts = args.get("prompts")
        if not args.get("channel_id") or not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= 4 or not all(
                isinstance(p, dict) and p.get("title") and p.get("message") for p in prompts):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _m_assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel_id") or not args.get("thread_ts") or "status" not in args:
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": args.get("channel"), "ts": args["ts"],
                "text": args.get("text", "")}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        messages = self.threads.get((args.get("channel", ""), args.get("ts", "")))
        if messages is None:
            return {"ok": False, "error": "thread_not_found"}
        limit = int(args.get("limit") or 1000)
        start = int(args.get("cursor") or 0)
        page = messages[start:start + limit]
        more = start + limit < len(messages)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        file = self.files.get(args.get("file", ""))
        if file is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": file, "comments": [], "response_metadata":
                {"next_cursor": ""}}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F_UP{len(self.uploads) + 1:04d}"
        self.uploads[file_id] = {"filename": args["filename"], "length": int(args["length"]),
                                 "body": None, "completed": None}
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}",
                "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(args.get("files") or "[]")
        for f in files:
            upload = self.uploads.get(f.get("id", ""))
            if upload is None or upload["body"] is None:
                return {"ok": False, "error": "file_not_found"}
            upload["completed"] = {"title": f.get("title"), "channel": args.get("channel_id"),
                                   "thread_ts": args.get("thread_ts"),
                                   "initial_comment": args.get("initial_comment")}
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not args.get("user_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks", [])) > 100:
            return {"ok": False, "error": "invalid_blocks"}
        return {"ok": True, "view": {"id": "V1", "type": "home", **view}}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(args.get("user", ""))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    # -- HTTP ------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _send(self, status: int, body: bytes, content_type: str,
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, body: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8",
                           headers)

            def _token(self) -> str | None:
                auth = self.headers.get("Authorization", "")
                return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None

            def _args(self, raw: bytes) -> dict[str, Any]:
                args: dict[str, Any] = {k: v[-1] for k, v in
                                        parse_qs(urlsplit(self.path).query).items()}
                content_type = self.headers.get("Content-Type", "")
                if raw and "json" in content_type:
                    args.update(json.loads(raw))
                elif raw:
                    args.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
                for key in ("blocks", "attachments", "chunks", "prompts"):
                    if isinstance(args.get(key), str):
                        args[key] = json.loads(args[key])
                return args

            def do_GET(self) -> None:
                self._dispatch(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._dispatch(self.rfile.read(length))

            def _dispatch(self, raw: bytes) -> None:
                path = urlsplit(self.path).path
                if path.startswith("/files-pri/"):
                    self._download(path)
                elif path.startswith("/upload/v1/"):
                    upload = fake.uploads.get(path.rsplit("/", 1)[-1])
                    if upload is None:
                        self._send(404, b"not found", "text/plain")
                    else:
                        upload["body"] = raw
                        self._send(200, f"OK - {len(raw)}".encode(), "text/plain")
                elif path.startswith("/response/"):
                    fake.responses[path].append(json.loads(raw or b"{}"))
                    self._send(200, b"ok", "text/plain")
                elif path.startswith("/api/"):
                    self._method(path.removeprefix("/api/"), self._args(raw))
                else:
                    self._send(404, b"not found", "text/plain")

            def _method(self, method: str, args: dict[str, Any]) -> None:
                token = self._token() or args.pop("token", None)
                with fake._lock:
                    fake.calls.append(Call(method, args, token))
                    outage = fake._outages.get(method)
                    if outage and time.monotonic() < outage[0]:
                        self._fail(*outage[1:])
                        return
                    wait = fake._over_tier(method)
                    if wait is not None:
                        fake.tier_refusals.append(method)
                        self._json(429, {"ok": False, "error": "ratelimited"},
                                   {"Retry-After": str(wait)})
                        return
                    limit = fake._rate_limits.get(method)
                    if limit and limit[0] > 0:
                        limit[0] -= 1
                        self._json(429, {"ok": False, "error": "ratelimited"},
                                   {"Retry-After": str(limit[1])})
                        return
                if method == "apps.connections.open":  # needs the app-level token
                    if token != APP_TOKEN or not fake.socket_url:
                        self._json(200, {"ok": False, "error": "invalid_auth"})
                    else:
                        self._json(200, {"ok": True, "url": fake.socket_url})
                    return
                if token != fake.token:
                    self._json(200, {"ok": False, "error": "invalid_auth" if token else
                                     "not_authed"})
                    return
                self._json(200, fake._api(method, args))

            def _fail(self, status: int, retry_after: int) -> None:
                if status == 429:
                    self._json(429, {"ok": False, "error": "ratelimited"},
                               {"Retry-After": str(retry_after)})
                else:
                    self._send(status, f"<html><body>{status}</body></html>".encode(),
                               "text/html; charset=utf-8")

            def _download(self, path: str) -> None:
                fake.downloads.append((path, self._token()))
                file_id = path.split("/")[2].split("-", 1)[-1]
                body = fake.file_bodies.get(file_id)
                if self._token() != fake.token or body is None:
                    self._send(200, b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>",
                               "text/html; charset=utf-8")
                    return
                self._send(200, body, "application/octet-stream")

        return Handler


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
         ) -> dict[str, str]:
    """The headers Slack sends with a request signed with the app's signing secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
