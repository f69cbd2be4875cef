"""A data-driven model's answer made up for a test where the model is not the thing under test
(reports.datadriven's own tests check the model)."""

from __future__ import annotations

from reports.datadriven import DataDriven, GroupCredit


def fake_model(
    *,
    status: str = "ok",
    conversions: int = 80,
    minimum: int = 50,
    by_channel: dict[int | None, tuple[int, int | None, int | None]],
) -> DataDriven:
    """A markov answer: per channel id (None: unattributed), (cents, lo_cents, hi_cents); no
    channel credited when the data is insufficient, as the model answers then."""
    return DataDriven(
        model="markov",
        status=status,
        conversions=conversions,
        minimum=minimum,
        by_channel={}
        if status != "ok"
        else {key: GroupCredit(*figures) for key, figures in by_channel.items()},
    )
