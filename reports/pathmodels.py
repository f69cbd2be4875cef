"""Data-driven attribution: each channel's share of the period's conversions, from the paths.

Pure computation over journeys (no database): the caller gathers each distinct journey (the
channels of its touches in time order, whether it converted, and how many contacts had it) and
gets back each channel's share of the conversions and a bootstrap interval around it.

`markov`: a first-order Markov chain over the states start, each channel, conversion and null.
Its transition probabilities are the journeys' transition counts, row-normalised: start to the
first channel, each channel to the next (a repeat, A then A, is a self-loop), the last channel
to conversion or null. P(conversion) is the probability of absorption in conversion from start,
solved exactly from the linear system (I - Q) h = r. The removal effect of channel c is
1 - P_without_c / P, where removing c sends every transition into c to null; P_without_c comes
from the same solution (P less the walks that reach c times c's own chance to convert, the
rank-one update of the system), so a chain of n channels costs one inversion, not n + 1.
Self-loops are kept (as ChannelAttribution keeps them); they change no removal effect: a
state's absorption probabilities are its other transitions renormalised, so collapsing repeats
gives the same shares.

`shapley`: the coalition value v(S) is the conversion rate of the journeys whose set of distinct
channels is exactly S (0 for a set no journey has, or none converted in). Each converting set C
shares its conversions out among its channels by the Shapley values of the game v restricted to
the subsets of C: phi_i(C) = sum over T within C of v(T) times (t-1)!(k-t)!/k! when i is in T,
minus t!(k-t-1)!/k! when i is in C but not in T (k = |C|, t = |T|). The values of C add up to
v(C), its conversion rate, so the set's conversions are n_C * phi_i(C), n_C being its journeys.
A channel's credit is that summed over the converting sets (the definition of the Apache-2.0
marketing-attribution-models package with value_column="conv_rate" and no size cap). Only sets
that occur among the converting journeys have a non-zero value, so the sum runs over pairs of
occurring sets only: exact and fast whatever the number of channels.

Shares: a channel's removal effect (Markov) or credit (Shapley) over the sum of them, among the
channels that appear in at least one converting journey; every other channel gets nothing, so
the shares are >= 0 and add up to 1. A Shapley credit below 0 (a channel whose set converts
worse than its parts) is counted as 0 before normalising. A journey with no channel (a
conversion without any touch) changes no share: it credits no channel and scales every removal
effect alike.

`intervals`: a percentile bootstrap with a fixed seed. The contacts are resampled (a multinomial
draw over the distinct journeys with their counts, the same total) and the shares recomputed;
every draw is a weight vector over the distinct journeys, so each journey's transitions and
channel set are counted once and a draw is a few matrix products.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MODELS = ("markov", "shapley")

# Draws of the bootstrap worked on at once by the Shapley model: bounds its memory to about
# this many floats whatever the number of pairs of channel sets.
_SHAPLEY_CELLS = 4_000_000
# Channels per 64-bit word of a channel set's mask (the sign bit left alone).
_BITS = 62


@dataclass(frozen=True)
class Journey:
    channels: tuple[int, ...]  # channel ids in time order, repeats kept (A, A, B)
    converted: bool
    count: int  # how many contacts/purchases had this exact journey


def shares(model: str, journeys: Sequence[Journey]) -> dict[int, float]:
    """Each channel's share of the conversions: >= 0, summing to 1 over the channels that
    appear in converting journeys (empty dict when there is no conversion, or when no
    converting journey has a touch)."""
    data = _Data(model, journeys)
    if not data.converting_channels:
        return {}
    row = data.shares(data.counts[np.newaxis, :])[0]
    return {c: float(row[i]) for i, c in enumerate(data.channels) if data.converting[i]}


def removal_effects(journeys: Sequence[Journey]) -> dict[int, float]:
    """The Markov model's removal effect of every channel in the journeys, converting or not
    (1 - P_without_c / P; empty dict when there is no conversion)."""
    data = _Data("markov", journeys)
    if not data.converting_channels:
        return {}
    effects = data.removal_effects(data.counts[np.newaxis, :])[1][0]
    return {c: float(effects[i]) for i, c in enumerate(data.channels)}


def shapley_credits(journeys: Sequence[Journey]) -> dict[int, float]:
    """The Shapley model's credit of each channel of a converting journey, in conversions,
    before negatives are counted as 0: the credits add up to the conversions (empty dict when
    there is no conversion)."""
    data = _Data("shapley", journeys)
    if not data.converting_channels:
        return {}
    credit = data.credits(data.counts[np.newaxis, :])[0]
    return {c: float(credit[i]) for i, c in enumerate(data.channels) if data.converting[i]}


def intervals(
    model: str,
    journeys: Sequence[Journey],
    *,
    draws: int = 200,
    seed: int = 20261203,
    level: float = 0.95,
) -> dict[int, tuple[float, float]]:
    """Percentile bootstrap interval of each channel's share: resample the journeys (as
    individual contacts: multinomial over the distinct journeys with their counts, same
    total), recompute shares, take the (1-level)/2 and 1-(1-level)/2 percentiles. Fixed
    seed: same input (in any order) -> same output. Channels missing from a draw count 0."""
    if not isinstance(draws, int) or draws < 1:
        raise ValueError("draws must be a positive integer")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    data = _Data(model, journeys)
    if not data.converting_channels:
        return {}
    weights = resample(data.counts, draws=draws, seed=seed)
    table = data.shares(weights)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(table, [tail, 100 - tail], axis=0)
    return {
        c: (float(low[i]), float(high[i]))
        for i, c in enumerate(data.channels)
        if data.converting[i]
    }


def resample(counts: np.ndarray, *, draws: int, seed: int) -> np.ndarray:
    """Draws x journeys: each row a multinomial draw of the counts' total over the journeys,
    with probabilities count / total (the contacts resampled with replacement).

    Sampled exactly but faster than a multinomial directly (one binomial per journey and draw):
    independent Poisson counts with the counts as means are, given their sum m, a multinomial
    draw of m; a row short of the total gets its missing contacts drawn from the same
    probabilities, a row over it loses m - total of its contacts picked at random without
    replacement (a random subset of independent draws is independent draws); both leave a
    multinomial draw of the total."""
    rng = np.random.default_rng(seed)
    counts = np.asarray(counts, dtype=np.int64)
    total, size = int(counts.sum()), len(counts)
    rows = rng.poisson(counts, size=(draws, size))
    bounds = np.cumsum(counts)
    for row in rows:
        have = int(row.sum())
        if have < total:
            picks = np.searchsorted(bounds, rng.integers(0, total, size=total - have), "right")
            row += np.bincount(picks, minlength=size)
        elif have > total:
            dropped = rng.choice(have, size=have - total, replace=False)
            row -= np.bincount(np.searchsorted(np.cumsum(row), dropped, "right"), minlength=size)
    return rows.astype(float)


class _Data:
    """The distinct journeys in a canonical order (so the input's order changes nothing), with
    what each model needs from them counted once."""

    def __init__(self, model: str, journeys: Sequence[Journey]) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}: one of {', '.join(MODELS)}")
        merged: dict[tuple[tuple[int, ...], bool], int] = {}
        for journey in journeys:
            if journey.count < 0:
                raise ValueError("a journey's count cannot be negative")
            if journey.count:
                key = (tuple(journey.channels), bool(journey.converted))
                merged[key] = merged.get(key, 0) + journey.count
        self.model = model
        self.keys = sorted(merged)
        self.counts = np.array([merged[k] for k in self.keys], dtype=float)
        self.converted = np.array([k[1] for k in self.keys], dtype=bool)
        # Every touch of every distinct journey in one flat array: its journey (owner), its
        # channel's column (touch) and where each journey's touches begin (first).
        self.lengths = np.array([len(path) for path, _ in self.keys], dtype=np.int64)
        ids = np.fromiter(
            itertools.chain.from_iterable(path for path, _ in self.keys),
            dtype=np.int64,
            count=int(self.lengths.sum()),
        )
        columns = np.unique(ids)
        self.channels = [int(c) for c in columns]
        self.touch = np.searchsorted(columns, ids)
        self.owner = np.repeat(np.arange(len(self.keys)), self.lengths)
        self.first = np.cumsum(self.lengths) - self.lengths
        # incidence[j, i]: journey j touches channel i.
        self.incidence = np.zeros((len(self.keys), len(self.channels)), dtype=float)
        self.incidence[self.owner, self.touch] = 1.0
        self.converting = (self.incidence[self.converted] > 0).any(axis=0)
        self.converting_channels = [c for i, c in enumerate(self.channels) if self.converting[i]]
        if self.converting_channels:
            (self._prepare_markov if model == "markov" else self._prepare_shapley)()

    def shares(self, weights: np.ndarray) -> np.ndarray:
        """Shares per channel (columns, self.channels' order) for each row of journey weights."""
        credit = self._markov(weights) if self.model == "markov" else self._shapley(weights)
        # A channel earns credit only in a draw where it is in a converting journey.
        eligible = (weights * self.converted) @ self.incidence > 0
        credit = np.where(eligible, np.maximum(credit, 0.0), 0.0)
        sums = credit.sum(axis=1, keepdims=True)
        return np.divide(credit, sums, out=np.zeros_like(credit), where=sums > 0)

    # Markov -------------------------------------------------------------------------------

    def _prepare_markov(self) -> None:
        n = len(self.channels)
        # States: 0 start, 1..n the channels, n + 1 conversion, n + 2 null.
        size = n + 3
        self.states = size
        end = np.where(self.converted, n + 1, n + 2)
        touched = np.flatnonzero(self.lengths > 0)
        after = self.touch + 1  # a touch's state
        inner = self.owner[:-1] == self.owner[1:]  # a touch followed by one of its journey
        last = self.first[touched] + self.lengths[touched] - 1
        entering = end.copy()  # a journey with no touch goes from start to its end
        entering[touched] = after[self.first[touched]]
        journey = np.concatenate([np.arange(len(self.keys)), self.owner[:-1][inner], touched])
        source = np.concatenate(
            [np.zeros(len(self.keys), dtype=np.int64), after[:-1][inner], after[last]]
        )
        target = np.concatenate([entering, after[1:][inner], end[touched]])
        edge = source * size + target
        self.edges = _Sums(journey, edge, size * size)

    def removal_effects(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(conversion) per row of weights and each channel's removal effect (0 when P is 0)."""
        n, size = len(self.channels), self.states
        counts = self.edges.of(weights).reshape(-1, size, size)
        rows = counts.sum(axis=2, keepdims=True)
        probs = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        q = probs[:, : n + 1, : n + 1]  # among start and the channels
        r = probs[:, : n + 1, n + 1]  # into conversion
        # The fundamental matrix F = (I - Q)^-1: F[a, b] is the expected visits to b from a.
        fundamental = np.linalg.inv(np.eye(n + 1) - q)
        h = (fundamental @ r[..., np.newaxis])[..., 0]  # P(conversion) from each state
        base = h[:, 0]
        # Removing c (every transition into it sent to null) takes away exactly the walks that
        # reach c, of which h_c convert: P_without_c = P - P(reach c) h_c, with P(reach c) =
        # F[start, c] / F[c, c] (the expected visits over the visits once there). This is the
        # chain solved again with c's column of Q emptied (a rank-one change: Sherman-Morrison),
        # without a solve per channel.
        visits = np.diagonal(fundamental, axis1=1, axis2=2)[:, 1:]
        lost = fundamental[:, 0, 1:] / visits * h[:, 1:]
        effects = np.divide(
            lost, base[:, np.newaxis], out=np.zeros_like(lost), where=base[:, None] > 0
        )
        return base, effects

    def _markov(self, weights: np.ndarray) -> np.ndarray:
        return self.removal_effects(weights)[1]

    # Shapley ------------------------------------------------------------------------------

    def _prepare_shapley(self) -> None:
        n = len(self.channels)
        # Each journey's set of distinct channels as a bit mask, _BITS channels a word.
        words = n // _BITS + 1
        masks = np.zeros((len(self.keys), words), dtype=np.int64)
        np.bitwise_or.at(
            masks, (self.owner, self.touch // _BITS), np.left_shift(1, self.touch % _BITS)
        )
        seen, which = np.unique(masks, axis=0, return_inverse=True)
        which = which.reshape(-1)
        # Only sets with a conversion have a value (v = 0 elsewhere) or conversions to share.
        kept = (np.bincount(which, weights=self.converted, minlength=len(seen)) > 0) & (
            seen != 0
        ).any(axis=1)
        sets = seen[kept]
        renumber = np.cumsum(kept) - 1
        member = np.flatnonzero(kept[which])
        self.set_of = _Sums(member, renumber[which[member]], len(sets))
        whole, part = [], []
        for start in range(0, len(sets), 256):
            block = sets[start : start + 256]
            inside = (
                (sets[np.newaxis, :, :] & block[:, np.newaxis, :]) == sets[np.newaxis, :, :]
            ).all(axis=2)
            c, t = np.nonzero(inside)
            whole.append(c + start)
            part.append(t)
        self.pair_set = np.concatenate(whole)  # C of each pair (T within C)
        self.pair_part = np.concatenate(part)  # T of each pair
        column = np.arange(n)
        has = (sets[:, column // _BITS] >> (column % _BITS)) & 1 == 1  # set x channel
        k = has.sum(axis=1)[self.pair_set]
        t = has.sum(axis=1)[self.pair_part]
        # log m! for m = 0..n + 1, so that the weights never overflow.
        log_f = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 2)))])
        inner = np.exp(log_f[t - 1] + log_f[k - t] - log_f[k])  # weight of v(T), channel in T
        outer = np.exp(log_f[t] + log_f[np.maximum(k - t - 1, 0)] - log_f[k])  # in C, not in T
        in_t = has[self.pair_part]
        in_c = has[self.pair_set]
        self.pair_coef = inner[:, None] * in_t - outer[:, None] * (in_c & ~in_t)

    def credits(self, weights: np.ndarray) -> np.ndarray:
        """Each channel's Shapley credit in conversions (before clamping) per row of weights."""
        journeys = self.set_of.of(weights)
        conversions = self.set_of.of(weights * self.converted)
        rate = np.divide(conversions, journeys, out=np.zeros_like(conversions), where=journeys > 0)
        # A set shares out its journeys' worth of Shapley values only where it converted.
        scale = np.where(conversions > 0, journeys, 0.0)
        out = np.empty((weights.shape[0], len(self.channels)))
        chunk = max(1, _SHAPLEY_CELLS // max(1, len(self.pair_set)))
        for start in range(0, weights.shape[0], chunk):
            rows = slice(start, start + chunk)
            pairs = scale[rows][:, self.pair_set] * rate[rows][:, self.pair_part]
            out[rows] = pairs @ self.pair_coef
        return out

    def _shapley(self, weights: np.ndarray) -> np.ndarray:
        return self.credits(weights)


class _Sums:
    """A sparse 0/1-or-count matrix journeys x cells, given as one entry per (journey, cell)
    occurrence: of(weights) is weights @ matrix, gathering only the entries."""

    def __init__(self, journey: np.ndarray, cell: np.ndarray, cells: int) -> None:
        order = np.argsort(cell, kind="stable")
        self.journey = journey[order]
        sorted_cells = cell[order]
        self.starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]])
        self.cells_hit = sorted_cells[self.starts]
        self.cells = cells

    def of(self, weights: np.ndarray) -> np.ndarray:
        out = np.zeros((weights.shape[0], self.cells))
        if len(self.journey):
            out[:, self.cells_hit] = np.add.reduceat(weights[:, self.journey], self.starts, axis=1)
        return out
