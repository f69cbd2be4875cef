"""The data-driven attribution core (reports.pathmodels): hand-worked Markov and Shapley
examples, the invariants of the shares and their bootstrap intervals, and agreement with an
independent implementation (the Apache-2.0 marketing-attribution-models package, a test-only
dependency) and with Shapley values by explicit enumeration of the channels' orderings.

Channels are ids: 1 = A, 2 = B, 3 = C, 4 = D.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mam.models.markov import MarkovModel
from mam.models.shapley import ShapleyModel

from reports.pathmodels import (
    MODELS,
    Journey,
    intervals,
    removal_effects,
    resample,
    shapley_credits,
    shares,
)

A, B, C, D = 1, 2, 3, 4

# Markov, hand-worked.
#   A > A > B converts (1 contact), B converts (1), A ends in null (2), C > B ends in null (1).
# Transition counts (repeats kept: A > A is a self-loop):
#   start: A 1 + 2 = 3, B 1, C 1 (5)     A: A 1, B 1, null 2 (4)
#   B: conversion 2, null 1 (3)           C: B 1 (1)
# Probabilities: start -> A 3/5, B 1/5, C 1/5; A -> A 1/4, B 1/4, null 1/2;
#   B -> conversion 2/3, null 1/3; C -> B 1.
# Absorption in conversion (h): h_B = 2/3; h_C = h_B = 2/3; h_A = 1/4 h_A + 1/4 h_B, so
#   3/4 h_A = 1/6 and h_A = 2/9. P = 3/5 * 2/9 + 1/5 * 2/3 + 1/5 * 2/3 = 2/15 + 4/15 = 2/5.
# Without A (start -> A goes to null): P = 1/5 * 2/3 + 1/5 * 2/3 = 4/15; effect 1 - (4/15)/(2/5)
#   = 1 - 2/3 = 1/3.
# Without B: every path to conversion passes B, P = 0; effect 1.
# Without C: P = 3/5 * 2/9 + 1/5 * 2/3 = 4/15; effect 1/3.
# Shares among the channels of converting journeys (A, B; C is only in a null journey, 0):
#   A 1/3 / (1/3 + 1) = 1/4, B 1 / (4/3) = 3/4.
MARKOV_EXAMPLE = [
    Journey((A, A, B), True, 1),
    Journey((B,), True, 1),
    Journey((A,), False, 2),
    Journey((C, B), False, 1),
]

# Shapley, hand-worked. v(S) = conversion rate of the journeys whose distinct channels are S:
#   {A}: 4 journeys, 1 conversion: v(A) = 1/4      {B}: 2 journeys, 1 conversion: v(B) = 1/2
#   {A, B}: 2 journeys (A > B and B > A), 2 conversions: v(AB) = 1
#   {C}: 1 journey, no conversion: v(C) = 0        {A, C}: C > A, 1 conversion: v(AC) = 1
# Each converting set's conversions, shared by the Shapley values of its own channels' game
# (journeys of the set x value, the values adding up to the set's conversion rate):
#   {A}: phi_A = v(A) = 1/4; 4 journeys -> A 1.
#   {B}: phi_B = 1/2; 2 journeys -> B 1.
#   {A, B}: phi_A = 1/2 (v(A) - 0) + 1/2 (v(AB) - v(B)) = 1/8 + 1/4 = 3/8,
#           phi_B = 1/2 (v(B) - 0) + 1/2 (v(AB) - v(A)) = 1/4 + 3/8 = 5/8; 2 journeys -> A 3/4, B 5/4.
#   {A, C}: phi_A = 1/2 (1/4) + 1/2 (1 - 0) = 5/8, phi_C = 1/2 (0) + 1/2 (1 - 1/4) = 3/8;
#           1 journey -> A 5/8, C 3/8.
# Credits: A 1 + 3/4 + 5/8 = 19/8, B 1 + 5/4 = 9/4, C 3/8: 5 in all, the 5 conversions.
# Shares: A 19/40, B 18/40 = 9/20, C 3/40.
SHAPLEY_EXAMPLE = [
    Journey((A,), True, 1),
    Journey((A,), False, 3),
    Journey((B,), True, 1),
    Journey((B,), False, 1),
    Journey((A, B), True, 1),
    Journey((B, A), True, 1),
    Journey((C,), False, 1),
    Journey((C, A), True, 1),
]


def test_markov_hand_worked():
    assert removal_effects(MARKOV_EXAMPLE) == pytest.approx({A: 1 / 3, B: 1.0, C: 1 / 3})
    assert shares("markov", MARKOV_EXAMPLE) == pytest.approx({A: 1 / 4, B: 3 / 4})


def test_markov_repeats_change_nothing():
    # A > A > B as A > B: A's self-loop goes, its other transitions (B 1, null 2) renormalise to
    # the same 1/3 and 2/3 that the self-loop's 1/4 h_A term gave; the effects are the same.
    collapsed = [Journey((A, B), True, 1), *MARKOV_EXAMPLE[1:]]
    assert removal_effects(collapsed) == pytest.approx(removal_effects(MARKOV_EXAMPLE))
    assert shares("markov", collapsed) == pytest.approx(shares("markov", MARKOV_EXAMPLE))


def test_shapley_hand_worked():
    assert shapley_credits(SHAPLEY_EXAMPLE) == pytest.approx({A: 19 / 8, B: 9 / 4, C: 3 / 8})
    assert shares("shapley", SHAPLEY_EXAMPLE) == pytest.approx({A: 19 / 40, B: 9 / 20, C: 3 / 40})


def test_shapley_negative_credit_counts_zero():
    # D converts (1 journey: v(D) = 1); A and D together: 4 journeys, 1 conversion, v(AD) = 1/4;
    # A alone never happens, v(A) = 0.
    #   {A, D}: phi_A = 1/2 (0) + 1/2 (1/4 - 1) = -3/8, phi_D = 1/2 (1) + 1/2 (1/4 - 0) = 5/8
    #   (sum 1/4 = v(AD)); 4 journeys -> A -3/2, D 5/2.   {D}: D 1.
    # Credits: A -3/2, D 7/2 (2 in all, the 2 conversions). Shares: A 0, D 1.
    journeys = [
        Journey((D,), True, 1),
        Journey((A, D), True, 1),
        Journey((D, A), False, 3),
    ]
    assert shapley_credits(journeys) == pytest.approx({A: -1.5, D: 3.5})
    assert shares("shapley", journeys) == pytest.approx({A: 0.0, D: 1.0})


@pytest.mark.parametrize("model", MODELS)
def test_no_conversion_is_empty(model):
    journeys = [Journey((A, B), False, 3), Journey((B,), False, 1)]
    assert shares(model, journeys) == {}
    assert intervals(model, journeys) == {}
    assert shares(model, []) == {}
    # Conversions only without touches: no channel to credit.
    walk_ins = [Journey((), True, 3), Journey((A,), False, 2)]
    assert shares(model, walk_ins) == {}
    assert intervals(model, walk_ins) == {}


@pytest.mark.parametrize("model", MODELS)
def test_journeys_without_touches_change_no_share(model):
    # A walk-in's conversion with no touch: no channel to credit; in the Markov chain it is a
    # start -> conversion transition that scales P and every P without c alike.
    base = MARKOV_EXAMPLE if model == "markov" else SHAPLEY_EXAMPLE
    walk_ins = [*base, Journey((), True, 4), Journey((), False, 2)]
    assert shares(model, walk_ins) == pytest.approx(shares(model, base))


def test_bad_input():
    with pytest.raises(ValueError, match="unknown model"):
        shares("linear", MARKOV_EXAMPLE)
    with pytest.raises(ValueError, match="negative"):
        shares("markov", [Journey((A,), True, -1)])
    with pytest.raises(ValueError, match="draws"):
        intervals("markov", MARKOV_EXAMPLE, draws=0)
    with pytest.raises(ValueError, match="level"):
        intervals("markov", MARKOV_EXAMPLE, level=1.0)


journey_lists = st.lists(
    st.builds(
        Journey,
        channels=st.lists(st.integers(1, 6), min_size=1, max_size=5).map(tuple),
        converted=st.booleans(),
        count=st.integers(1, 20),
    ),
    min_size=1,
    max_size=25,
)


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys=journey_lists, order_seed=st.integers(0, 1000))
def test_shares_invariants(model, journeys, order_seed):
    result = shares(model, journeys)
    converting_channels = {c for j in journeys if j.converted for c in j.channels}
    if not converting_channels:
        assert result == {}
        return
    # Totals invariance: the shares are the whole of the conversions, none negative.
    assert set(result) == converting_channels
    assert sum(result.values()) == pytest.approx(1.0)
    assert min(result.values()) >= 0
    # A channel seen only in journeys that did not convert gets nothing.
    for journey in journeys:
        for channel in journey.channels:
            if channel not in converting_channels:
                assert result.get(channel, 0.0) == 0.0
    # The journeys' order, and a journey given as two rows, change nothing.
    shuffled = list(journeys)
    random.Random(order_seed).shuffle(shuffled)
    first = shuffled[0]
    if first.count > 1:
        shuffled[:1] = [
            Journey(first.channels, first.converted, 1),
            Journey(first.channels, first.converted, first.count - 1),
        ]
    assert shares(model, shuffled) == pytest.approx(result)


def typical_journeys(seed: int = 3) -> list[Journey]:
    """About 400 contacts over four channels, a realistic mix of converting and not."""
    rng = random.Random(seed)
    paths: dict[tuple[tuple[int, ...], bool], int] = {}
    for _ in range(400):
        path = tuple(rng.choices([A, B, C, D], weights=[4, 3, 2, 1], k=rng.randint(1, 4)))
        converted = rng.random() < (0.15 + 0.1 * (B in path) + 0.05 * (A in path))
        paths[path, converted] = paths.get((path, converted), 0) + 1
    return [Journey(p, c, n) for (p, c), n in paths.items()]


@pytest.mark.parametrize("model", MODELS)
def test_interval_contains_point_estimate(model):
    journeys = typical_journeys()
    point = shares(model, journeys)
    bands = intervals(model, journeys)
    assert set(bands) == set(point)
    for channel, share in point.items():
        low, high = bands[channel]
        assert 0 <= low <= share <= high <= 1
        assert low < high  # 400 contacts leave real uncertainty


@pytest.mark.parametrize("model", MODELS)
def test_interval_is_fixed_by_the_seed(model):
    journeys = typical_journeys()
    reordered = list(reversed(journeys))
    same = intervals(model, journeys)
    assert intervals(model, reordered) == same
    assert intervals(model, journeys, seed=20261203) == same
    assert intervals(model, journeys, seed=7) != same
    # A narrower level gives a narrower interval, inside the wider one.
    narrow = intervals(model, journeys, level=0.5)
    for channel, (low, high) in narrow.items():
        assert same[channel][0] <= low <= high <= same[channel][1]


@pytest.mark.parametrize("model", MODELS)
def test_a_channel_missing_from_a_draw_counts_zero(model):
    # D converts once among 1,000 contacts: about 37% of the draws (e^-1) miss it, so the lower
    # end of its interval is 0, while its share on the data is above 0.
    journeys = [
        Journey((A,), True, 300),
        Journey((A,), False, 400),
        Journey((B, A), True, 100),
        Journey((B,), False, 199),
        Journey((D,), True, 1),
    ]
    assert shares(model, journeys)[D] > 0
    assert intervals(model, journeys)[D][0] == 0.0


# The independent implementation -------------------------------------------------------------


def unified_frame(journeys: list[Journey]) -> pl.DataFrame:
    """The journeys in marketing-attribution-models' own input frame (one row per distinct
    journey, its count as the weight, a conversion worth 1)."""
    return pl.DataFrame(
        {
            "journey_id": [str(i) for i in range(len(journeys))],
            "channels": [[str(c) for c in j.channels] for j in journeys],
            "has_conversion": [j.converted for j in journeys],
            "weight": [j.count for j in journeys],
            "conversion_value": [1.0 if j.converted else 0.0 for j in journeys],
        },
        schema={
            "journey_id": pl.Utf8,
            "channels": pl.List(pl.Utf8),
            "has_conversion": pl.Boolean,
            "weight": pl.Int64,
            "conversion_value": pl.Float64,
        },
    )


converting_journey_lists = journey_lists.filter(lambda js: any(j.converted for j in js))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys=converting_journey_lists)
def test_markov_agrees_with_marketing_attribution_models(journeys):
    # Its Markov model with transitions to the same state kept (our repeats) inverts the
    # fundamental matrix of the chain and removes a channel by moving its column to null.
    model = MarkovModel(transition_to_same_state=True)
    model.calculate(unified_frame(journeys))
    theirs = {int(c): e for c, e in model.removal_effect_df["removal_effect"].items()}
    assert removal_effects(journeys) == pytest.approx(theirs, abs=1e-9)
    converting = {c for j in journeys if j.converted for c in j.channels}
    total = sum(theirs[c] for c in converting)
    assert shares("markov", journeys) == pytest.approx(
        {c: theirs[c] / total for c in converting}, abs=1e-9
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys=converting_journey_lists)
def test_shapley_agrees_with_marketing_attribution_models(journeys):
    # Its Shapley model with conversion rates and no cap on the set size: each converting
    # channel set's Shapley values over the subsets of the set, scaled to its conversions.
    model = ShapleyModel(max_size=None, value_column="conv_rate")
    frame = model.get_aggregated_results(unified_frame(journeys))
    theirs = dict(zip(map(int, frame["channels"]), frame["attribution"], strict=True))
    assert shapley_credits(journeys) == pytest.approx(theirs, abs=1e-9)


def credits_by_orderings(journeys: list[Journey]) -> dict[int, Fraction]:
    """Shapley credits in exact fractions, as the average over every ordering of a converting
    set's channels of each channel's marginal contribution (no subset weights)."""
    seen: dict[frozenset[int], list[int]] = {}
    for journey in journeys:
        tally = seen.setdefault(frozenset(journey.channels), [0, 0])
        tally[0] += journey.count
        tally[1] += journey.count if journey.converted else 0

    def v(coalition: frozenset[int]) -> Fraction:
        contacts, conversions = seen.get(coalition, (0, 0))
        return Fraction(conversions, contacts) if conversions else Fraction(0)

    credit: dict[int, Fraction] = {}
    for channel_set, (contacts, conversions) in seen.items():
        if not conversions:
            continue
        orderings = list(itertools.permutations(sorted(channel_set)))
        for ordering in orderings:
            for place, channel in enumerate(ordering):
                before = frozenset(ordering[:place])
                gain = v(before | {channel}) - v(before)
                credit[channel] = credit.get(channel, Fraction(0)) + contacts * gain / len(
                    orderings
                )
    return credit


@settings(max_examples=60, deadline=None)
@given(journeys=converting_journey_lists)
def test_shapley_agrees_with_every_ordering(journeys):
    expected = credits_by_orderings(journeys)
    assert shapley_credits(journeys) == pytest.approx(
        {c: float(x) for c, x in expected.items()}, abs=1e-9
    )
    conversions = sum(j.count for j in journeys if j.converted)
    assert sum(expected.values()) == conversions


def test_resample_is_a_multinomial_draw_of_the_total():
    # Counts 1, 2, 3, 0, 10 (16 contacts): every draw has 16 contacts; over 40,000 draws each
    # journey's mean is its count (16 p) and its variance 16 p (1 - p): 15/16, 28/16, 39/16, 0,
    # 60/16; two journeys' covariance is -16 p_i p_j, for the 2 and the 3: -6/16.
    counts = np.array([1, 2, 3, 0, 10])
    rows = resample(counts, draws=40_000, seed=1)
    assert set(rows.sum(axis=1)) == {16.0}
    assert rows.mean(axis=0) == pytest.approx([1, 2, 3, 0, 10], abs=0.05)
    assert rows.var(axis=0) == pytest.approx([15 / 16, 28 / 16, 39 / 16, 0, 60 / 16], abs=0.06)
    assert np.cov(rows[:, 1], rows[:, 2])[0, 1] == pytest.approx(-6 / 16, abs=0.03)
    assert (rows >= 0).all()
    assert np.array_equal(resample(counts, draws=50, seed=9), resample(counts, draws=50, seed=9))


def test_many_channels():
    # 80 channels (more than one 64-bit word of a channel set's mask), large ids.
    rng = random.Random(11)
    ids = [1000 + 7 * i for i in range(80)]
    journeys = [
        Journey(tuple(rng.choices(ids, k=rng.randint(1, 4))), rng.random() < 0.4, rng.randint(1, 5))
        for _ in range(300)
    ]
    expected = credits_by_orderings(journeys)
    assert shapley_credits(journeys) == pytest.approx(
        {c: float(x) for c, x in expected.items()}, abs=1e-9
    )
    for model in MODELS:
        result = shares(model, journeys)
        assert set(result) == {c for j in journeys if j.converted for c in j.channels}
        assert sum(result.values()) == pytest.approx(1.0)
        assert min(result.values()) >= 0
        bands = intervals(model, journeys, draws=50)
        assert set(bands) == set(result)
        assert all(0 <= low <= high <= 1 for low, high in bands.values())
