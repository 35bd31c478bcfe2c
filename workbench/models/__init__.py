"""The model layer: a configuration's model spec becomes a LangChain chat model.

Names are imported when first used: linting a configuration loads its provider (`models.providers`) without
LangChain, whose imports take seconds."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cache import ResponseCache, request_key
    from .client import ModelClient, Response
    from .factory import chat_model
    from .local import LocalChatModel, model_path
    from .pricing import cost, load_pricing

_EXPORTS = {
    "LocalChatModel": "local",
    "ModelClient": "client",
    "Response": "client",
    "ResponseCache": "cache",
    "chat_model": "factory",
    "cost": "pricing",
    "load_pricing": "pricing",
    "model_path": "local",
    "request_key": "cache",
}

__all__ = [
    "LocalChatModel",
    "ModelClient",
    "Response",
    "ResponseCache",
    "chat_model",
    "cost",
    "load_pricing",
    "model_path",
    "request_key",
]
assert sorted(_EXPORTS) == __all__


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
