"""What was refused in one request, per reason: reported back (partial success / error body) and counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from portal.core.metrics import INGEST_REJECTIONS

MAX_MESSAGES = 10


@dataclass
class Rejections:
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def add(self, reason: str, n: int, message: str) -> None:
        if n <= 0:
            return
        self.count += n
        self.reasons[reason] += n
        # Keep the report short: the first few distinct messages say what to fix.
        if len(self.messages) < MAX_MESSAGES and message not in self.messages:
            self.messages.append(message)

    def message(self) -> str:
        more = sum(self.reasons.values()) and len(self.messages) >= MAX_MESSAGES
        return "; ".join(self.messages) + ("; …" if more else "")

    def count_metrics(self, org_id: str) -> None:
        for reason, n in self.reasons.items():
            INGEST_REJECTIONS.labels(org=org_id, signal="metrics", reason=reason).inc(n)
