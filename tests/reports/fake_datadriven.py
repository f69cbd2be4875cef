"""A data-driven model's result made up for a test (reports.datadriven's shape), for tests
where the model is not the thing under test."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GroupCredit:
    cents: int
    lo_cents: int | None
    hi_cents: int | None


@dataclass
class DataDriven:
    model: str
    status: str
    conversions: int
    minimum: int
    by_channel: dict = field(default_factory=dict)
    by_campaign: dict = field(default_factory=dict)


def fake_model(
    *,
    status: str = "ok",
    conversions: int = 80,
    minimum: int = 50,
    by_channel: dict[int | None, tuple[int, int | None, int | None]],
) -> DataDriven:
    """A markov result: per channel id (None: unattributed), (cents, lo_cents, hi_cents)."""
    return DataDriven(
        model="markov",
        status=status,
        conversions=conversions,
        minimum=minimum,
        by_channel={key: GroupCredit(*figures) for key, figures in by_channel.items()},
    )
