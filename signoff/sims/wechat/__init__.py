"""A local simulator of the WeChat Official Account API, served over real HTTP for wechatpy to talk to.

Endpoints under `/cgi-bin/` behave as the platform documents them (tokens with a grace period,
image uploads, the draft box, freepublish, mass sending, signed event pushes); `/_sim/*` injects
faults and exposes what was published.
"""

from __future__ import annotations

from .app import create_app, sim_state
from .config import SimConfig
from .control import SimControl
from .server import WeChatSim, serve

__all__ = ["SimConfig", "SimControl", "WeChatSim", "create_app", "serve", "sim_state"]
