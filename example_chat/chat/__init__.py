"""The chat app: rooms, messages, their server functions and channels, and the page."""
