"""The chat bot: staff hand in drafts and decide with one tap.

`bot.cards` and `bot.texts` are messenger-neutral (plain values built from the core's façade);
`bot.telegram` is the Telegram adapter (aiogram 3). A second messenger gets its own adapter
beside it and reuses the rest; the core knows none of them.
"""
