"""Every secret the process knows, and the one function that hides them before anything is stored.

A secret is known by value: the value of each `api_key_env` variable a client was built with (the
configuration's, its fallbacks' and its judges'), credentials inside a `base_url`, bearer tokens and other
secret-looking values in `kwargs` (headers included), and the values of environment variables whose names
say they are secrets (`*_API_KEY`, `*_TOKEN`, `*_SECRET`, `*_PASSWORD`), which LangChain classes read on their own.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

#: Environment variable names that hold secrets (`OPENAI_API_KEY`, `HF_TOKEN`; not `TOKENIZERS_PARALLELISM`).
SECRET_ENV = re.compile(r"(^|_)(API_?KEY|KEY|TOKEN|SECRET|SECRET_KEY|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
#: Mapping keys whose values are secrets (`api_key`, `Authorization`, `x-api-key`).
SECRET_KEY = re.compile(r"(api[_-]?key|secret|token|password|passwd|credential|authorization)", re.IGNORECASE)
#: Values that look like credentials wherever they appear: an auth scheme with a token, provider key shapes.
SECRET_VALUE = re.compile(
    r"^\s*(Bearer|Basic|Token)\s+\S{8,}|\b(sk|rk|ghp|gho|ghs|github_pat|xox[abpr]|hf)[-_][A-Za-z0-9_\-]{12,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
)
MASK = "***"
MIN_LENGTH = 6  # shorter values would mask ordinary words

_known: set[str] = set()
_pattern: re.Pattern | None = None  # one alternation of every known secret, longest first; rebuilt on change
_lock = threading.Lock()


def remember(*values: str | None) -> None:
    """Add secret values (and their URL-encoded forms) to what `hide` removes."""
    global _pattern
    with _lock:
        before = len(_known)
        for value in values:
            if value and len(value.strip()) >= MIN_LENGTH:
                value = value.strip()
                _known.update({value, quote(value, safe=""), unquote(value)})
        if len(_known) != before:
            _pattern = re.compile("|".join(re.escape(v) for v in sorted(_known, key=len, reverse=True)))


def remember_environment() -> None:
    """The values of secret-named environment variables (`OPENAI_API_KEY`, `HF_TOKEN`) that look like keys:
    16 characters or more, digits included, so `POSTGRES_PASSWORD=postgres` never masks a word in answers."""
    remember(
        *(
            value
            for name, value in os.environ.items()
            if SECRET_ENV.search(name) and len(value.strip()) >= 16 and any(c.isdigit() for c in value)
        )
    )


def remember_spec(spec: Any) -> None:
    """The secrets a model spec carries or points to: its key variable, URL credentials, secret-like kwargs,
    and the secret-named environment variables a LangChain class may read on its own."""
    remember_environment()
    if spec.api_key_env:
        remember(os.environ.get(spec.api_key_env))
    remember(*url_credentials(spec.base_url))
    remember(*(value for _, value in secret_values(spec.kwargs)))


def url_credentials(url: str | None) -> list[str]:
    """The credentials written into a URL: `http://user:pass@host`, `?api_key=...`, `?token=...`."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    query = [value for name, value in parse_qsl(parts.query) if SECRET_KEY.search(name) or SECRET_VALUE.search(value)]
    return [v for v in (parts.username, parts.password, *query) if v]


def secret_values(value: Any, path: tuple = ()) -> Iterable[tuple[tuple, str]]:
    """(path, secret) for every secret-looking string in a nested mapping: values under secret-like keys,
    bearer / basic tokens, provider key shapes such as `sk-...`, and credentials inside URLs."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and SECRET_KEY.search(str(key)):
                yield path + (key,), _token(item)
            else:
                yield from secret_values(item, path + (key,))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from secret_values(item, path + (i,))
    elif isinstance(value, str):
        if SECRET_VALUE.search(value):
            yield path, _token(value)
        elif "://" in value:
            yield from ((path, c) for c in url_credentials(value))


def known() -> list[str]:
    """Every secret value remembered so far, longest first."""
    with _lock:
        return sorted(_known, key=len, reverse=True)


def hide(text: str) -> str:
    """`text` with every known secret replaced by `***` (the longest first, so a key is hidden whole)."""
    pattern = _pattern
    return pattern.sub(MASK, text) if text and pattern is not None else text


def _token(value: str) -> str:
    """The secret part of a header value: `Bearer abc` -> `abc`."""
    match = re.match(r"^\s*(?:Bearer|Basic|Token)\s+(\S+)", value, re.IGNORECASE)
    return match.group(1) if match else value
