from __future__ import annotations

from datetime import UTC, datetime

from shopctl.application.ports import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)
