"""Concurrent virtual shoppers (``shopctl simulate``): a client of the use cases, like the CLI."""
