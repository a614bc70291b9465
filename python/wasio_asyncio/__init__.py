"""asyncio Streams for Python programs built as wasio components."""
