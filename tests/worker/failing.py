"""Jobs the worker tests enqueue by name (a real worker imports this module to run them)."""

from __future__ import annotations

import os

# a token the configuration does not know, as another bot's would be
OTHER_BOT_TOKEN = "987654321:AAHfakeOtherBotTokenForTests_0123456789"
ACCESS_TOKEN = "ACCESS-TOKEN-0123456789abcdef"


def fail_with_secrets() -> None:
    """Fail as a Bot API call fails (aiohttp and aiogram name the URL, the bot token in its path),
    chained to an error that names the app secret and an access token."""
    token = os.environ["SIGNOFF_TELEGRAM_TOKEN"]
    secret = os.environ["SIGNOFF_WECHAT_SECRET"]
    try:
        raise LookupError(f"credentials {{'appid': 'wx1', 'app secret': '{secret}'}} "
                          f"https://api.weixin.qq.com/cgi-bin/draft/add?access_token={ACCESS_TOKEN}")
    except LookupError as exc:
        raise RuntimeError(f"Cannot connect to host api.telegram.org:443 "
                           f"[POST https://api.telegram.org/bot{token}/sendMessage] "
                           f"(also tried bot{OTHER_BOT_TOKEN})") from exc
