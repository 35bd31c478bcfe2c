"""The model layer: a configuration's model spec becomes a LangChain chat model."""

from .cache import ResponseCache, request_key
from .client import ModelClient, Response
from .factory import chat_model
from .local import LocalChatModel, model_path
from .pricing import cost, load_pricing

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
