"""The chat bot (aiogram 3): hand in drafts, approve with one tap. Built in a later issue."""
