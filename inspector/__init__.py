"""The inspector: pulls finished clips from watchers, verifies, stores and analyzes them."""
