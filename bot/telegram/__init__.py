"""The Telegram adapter: aiogram 3 against the Bot API server named in the settings (Telegram's,
a self-hosted one, or the bundled simulator)."""
