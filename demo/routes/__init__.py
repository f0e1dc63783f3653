"""The development sign-in pages and API of the demo part (registered by `demo.extension`)."""
