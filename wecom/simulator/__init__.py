"""Offline WeCom (企业微信) simulator: a small separate HTTP server that behaves like WeCom for the
endpoints the platform uses and pushes real encrypted callbacks. See README.md.

Standalone on purpose: imports neither Django nor any project module outside this package.

    python -m wecom.simulator --port 8090 --callback-url http://127.0.0.1:8000/wecom/callback/

    from wecom.simulator import start_in_thread, SimConfig
    base_url, sim = start_in_thread(SimConfig(port=0, callback_url=...))
    ...
    sim.stop()
"""

from .config import SimConfig
from .core import ApiError, ControlError, Simulator
from .crypto import WeComCrypto
from .server import start_in_thread

__all__ = ["ApiError", "ControlError", "SimConfig", "Simulator", "WeComCrypto", "start_in_thread"]
