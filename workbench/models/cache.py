"""A response cache on disk (SQLite), shared across runs and processes. Only successes are stored."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import warnings
from pathlib import Path
from typing import Any

from ..errors import InfrastructureError


def request_key(request: dict[str, Any]) -> str:
    """sha256 over the fully resolved request: messages, model, parameters, seed, fallbacks."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ResponseCache:
    """`get`/`put` by request key. WAL mode lets several processes read and write one file.

    Writes are behind: `put` queues the entry and a writer thread commits what is queued in one
    transaction, so a run's event loop never waits on SQLite (a commit per answer was a tenth of a
    run's time with an instant model). `get` sees queued entries; `flush` waits until they are on
    disk (other processes see them from then on); `close` flushes. The writer thread lives only while
    entries are queued and is not a daemon: a process that exits without closing still writes them.
    A cache that fails (a full disk, a file locked too long or broken) warns once and is off from then on:
    the run goes on, its answers are neither read from nor written to the cache.
    """

    def __init__(self, path: Path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._written = threading.Condition(self._lock)
        self._queued: dict[str, str] = {}
        self._writer: threading.Thread | None = None
        self.failure: sqlite3.Error | None = None  # why the cache stopped storing answers
        try:  # two connections: SQLite's are not for two threads at once
            self._db, self._writer_db = _connect(path), _connect(path)
        except sqlite3.Error as exc:
            raise InfrastructureError(
                f"the response cache cannot be opened ({exc})",
                file=path,
                fix="delete the file (it holds only cached answers), or run with --no-cache",
            ) from None

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if self.failure is not None:
                return None
            text = self._queued.get(key)
            if text is None:
                try:
                    row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
                except sqlite3.Error as exc:
                    self._fail(exc)
                    return None
                text = row[0] if row else None
        return json.loads(text) if text is not None else None

    def put(self, key: str, response: dict[str, Any]) -> None:
        text = json.dumps(response)
        with self._lock:
            if self.failure is not None:
                return
            self._queued[key] = text
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="workbench-cache-writer")
                self._writer.start()

    def flush(self) -> None:
        """Wait until every queued entry is committed (or dropped, when the cache cannot be written)."""
        with self._lock:
            while self._writer is not None:
                self._written.wait()

    def __len__(self) -> int:
        self.flush()
        with self._lock:
            return self._db.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                self._db.close()
                self._writer_db.close()

    def _write(self) -> None:
        """The writer thread: commit what is queued, in one transaction, until nothing is."""
        while True:
            with self._lock:
                if self.failure is not None:
                    self._queued.clear()  # a cache: what could not be written is asked again next time
                batch = list(self._queued.items())
                if not batch:
                    self._writer = None
                    self._written.notify_all()
                    return
            try:  # outside the lock: `get` and `put` go on while SQLite writes
                with self._writer_db:  # one transaction (the connection autocommits otherwise)
                    self._writer_db.execute("BEGIN")
                    self._writer_db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?)", batch)
            except sqlite3.Error as exc:
                with self._lock:
                    self._fail(exc)
                continue
            with self._lock:
                for key, text in batch:
                    if self._queued.get(key) is text:  # not replaced while it was being written
                        del self._queued[key]

    def _fail(self, exc: sqlite3.Error) -> None:
        """The cache is off from now on (called with the lock held); the first failure warns."""
        if self.failure is None:
            self.failure = exc
            warnings.warn(f"the response cache {self.path} failed ({exc}): answers are not cached", stacklevel=2)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL)")
    return db
