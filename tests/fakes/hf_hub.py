"""A local server that speaks the Hugging Face Hub's protocol for model repos, serving folders on disk.

Enough of it for ``huggingface_hub`` (auth-check, repo info, the recursive file listing, HEAD and GET on
``resolve`` with ``X-Repo-Commit``, ``ETag``, ``Content-Length`` and ranges) and for diffusers' downloads: a
tiny pipeline saved by ``engine/local/tiny`` is served as if it were ``stabilityai/...`` on the Hub. It runs
on its own thread (the Hub client is synchronous and downloads on GPU lanes' threads and worker pools);
point ``HF_ENDPOINT`` (or ``huggingface_hub.constants.ENDPOINT``) at ``url``.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any


class FakeHub:
    def __init__(self, *, weights_delay_s: float = 0.0) -> None:
        self.repos: dict[str, Path] = {}
        # A slow link: each weights file takes this long to start arriving (the server's time, not a test's wait).
        self.weights_delay_s = weights_delay_s
        self.sha = hashlib.sha1(b"reelbot fake hub").hexdigest()
        self.downloads: list[str] = []  # "repo/path" of every file GET, in order
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add(self, repo: str, folder: Path, *, extra: dict[str, bytes] | None = None) -> None:
        """Serve ``folder`` as ``repo``; ``extra`` adds files (a root checkpoint diffusers must not fetch)."""
        self.repos[repo] = Path(folder)
        for name, data in (extra or {}).items():
            (Path(folder) / name).write_bytes(data)

    def files(self, repo: str) -> dict[str, Path]:
        root = self.repos[repo]
        return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}

    def size(self, repo: str) -> int:
        return sum(p.stat().st_size for p in self.files(repo).values())

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                hub._answer(self, body=True)

            def do_HEAD(self) -> None:  # noqa: N802
                hub._answer(self, body=False)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the protocol ---

    def _answer(self, req: http.server.BaseHTTPRequestHandler, *, body: bool) -> None:
        parts = urllib.parse.urlsplit(req.path)
        path = urllib.parse.unquote(parts.path)
        if path.startswith("/api/models/"):
            rest = path.removeprefix("/api/models/")
            repo = next((r for r in self.repos if rest == r or rest.startswith(r + "/")), None)
            if repo is None:
                return self._json(req, 404, {"error": "Repository not found"}, body, {"X-Error-Code": "RepoNotFound"})
            tail = rest.removeprefix(repo)
            if tail == "/auth-check":
                return self._json(req, 200, {}, body)
            if tail == "" or tail.startswith("/revision/"):
                siblings = [{"rfilename": name} for name in self.files(repo)]
                return self._json(req, 200, {"id": repo, "modelId": repo, "sha": self.sha, "private": False,
                                             "siblings": siblings, "tags": []}, body)
            if tail.startswith("/tree/"):
                return self._json(req, 200, self._tree(repo), body)
            return self._json(req, 404, {"error": "not found"}, body)
        repo = next((r for r in self.repos if path.startswith(f"/{r}/resolve/")), None)
        if repo is None:
            return self._json(req, 404, {"error": "Repository not found"}, body, {"X-Error-Code": "RepoNotFound"})
        name = path.removeprefix(f"/{repo}/resolve/").split("/", 1)[1]
        file = self.files(repo).get(name)
        if file is None:
            return self._json(req, 404, {"error": "Entry not found"}, body, {"X-Error-Code": "EntryNotFound"})
        data = file.read_bytes()
        start = 0
        status = 200
        if (wanted := req.headers.get("Range", "")).startswith("bytes="):
            start = int(wanted.removeprefix("bytes=").split("-")[0] or 0)
            status = 206
        chunk = data[start:]
        req.send_response(status)
        req.send_header("Content-Type", "application/octet-stream")
        req.send_header("Content-Length", str(len(chunk)))
        req.send_header("X-Repo-Commit", self.sha)
        req.send_header("ETag", f'"{_oid(data)}"')
        if status == 206:
            req.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        req.end_headers()
        if body:
            self.downloads.append(f"{repo}/{name}")
            if name.endswith(".safetensors") and self.weights_delay_s:
                time.sleep(self.weights_delay_s)
            req.wfile.write(chunk)

    def _tree(self, repo: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        folders = set()
        for name, file in self.files(repo).items():
            if "/" in name:
                folders.add(name.rsplit("/", 1)[0])
            entries.append({"type": "file", "path": name, "size": file.stat().st_size, "oid": _oid(file.read_bytes())})
        entries += [{"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest()} for f in folders]
        return entries

    @staticmethod
    def _json(req: http.server.BaseHTTPRequestHandler, status: int, data: Any, body: bool,
              headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            req.send_header(key, value)
        req.end_headers()
        if body:
            req.wfile.write(raw)


def _oid(data: bytes) -> str:
    """A git blob id, as the Hub gives for files kept in git (not LFS)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
