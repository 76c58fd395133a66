"""When a scheduled run should start a deletion batch, and which requests are close to their deadline.

A batch costs minutes of unlearning whatever its size, so a scheduled run waits for enough work
(`min_batch_size` pending samples) unless waiting longer would be wrong: a request has waited
`max_wait_days`, or one is within `deadline_margin_days` of its legal due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from components.ledger.store import Request

DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "0 3 * * *"  # `forgetflow serve` without --cron/--interval: every day at 03:00
    min_batch_size: int = 100  # pending samples that are worth a batch on their own
    max_wait_days: float = 7.0  # ...or the oldest pending request has waited this long
    deadline_margin_days: float = 7.0  # ...or a request is due within this: run now ("at risk")

    def __post_init__(self) -> None:
        if self.min_batch_size < 1 or self.max_wait_days < 0 or self.deadline_margin_days < 0:
            raise ValueError("min_batch_size must be >= 1 and max_wait_days, deadline_margin_days >= 0")


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str
    pending_samples: int
    oldest_pending: Request | None
    nearest_due: Request | None
    overdue: tuple[Request, ...]


def deadline_state(request: Request, at: datetime, margin_days: float) -> str:
    """ "done" once handled; else "overdue", "at risk" (due within the margin) or "ok"."""
    if request.status in ("done", "rejected"):
        return request.status
    left = days_left(request, at)
    return "overdue" if left < 0 else "at risk" if left <= margin_days else "ok"


def days_left(request: Request, at: datetime) -> float:
    return (datetime.fromisoformat(request.due_at) - at).total_seconds() / DAY_SECONDS


def decide(requests: list[Request], cfg: ScheduleConfig, at: datetime | None = None) -> Decision:
    """Whether a scheduled run should start a batch over these requests (only `pending` ones count)."""
    at = at or datetime.now(UTC)
    pending = [r for r in requests if r.status == "pending"]
    open_ = [r for r in requests if r.status in ("pending", "processing", "failed")]
    overdue = tuple(r for r in open_ if days_left(r, at) < 0)
    oldest = min(pending, key=lambda r: r.created_at, default=None)
    nearest = min(open_, key=lambda r: r.due_at, default=None)
    n = sum(len(r.sample_ids) for r in pending)
    facts = dict(pending_samples=n, oldest_pending=oldest, nearest_due=nearest, overdue=overdue)
    if not pending:
        return Decision(False, "nothing to do: no pending requests", **facts)
    urgent = [r for r in pending if days_left(r, at) <= cfg.deadline_margin_days]
    waited = (at - datetime.fromisoformat(oldest.created_at)).total_seconds() / DAY_SECONDS
    if urgent:
        return Decision(True, f"{urgent[0].id} is due {urgent[0].due_at} (within {cfg.deadline_margin_days:g} days)", **facts)
    if n >= cfg.min_batch_size:
        return Decision(True, f"{n} pending samples >= min_batch_size {cfg.min_batch_size}", **facts)
    if waited >= cfg.max_wait_days:
        return Decision(True, f"{oldest.id} has waited {waited:.1f} days >= max_wait_days {cfg.max_wait_days:g}", **facts)
    return Decision(
        False,
        f"nothing to do: {n} pending samples < {cfg.min_batch_size}, oldest waited {waited:.1f} of "
        f"{cfg.max_wait_days:g} days, nearest due {nearest.due_at}",
        **facts,
    )
