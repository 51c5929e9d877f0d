"""Ports: what the application needs from the outside world, as abstract classes."""

from __future__ import annotations

import abc
from datetime import datetime


class Clock(abc.ABC):
    @abc.abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
