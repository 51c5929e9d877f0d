"""Use cases: one class per user intent, wired to adapters by ``shopctl.bootstrap``."""
