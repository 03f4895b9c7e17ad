"""The shipping rule of the study's rule files: does a candidate weights file replace the shipped one?

The clauses are those of ``benchmarks/results/reproduce/fgrn_soup.md``, which the later rule files
cite; each is judged on the held-out training images only (:mod:`benchmarks.reproduce.validate_weights`
scores them). A candidate passes when both guards hold and one clause holds:

* guards: its test-card PSNR no more than ``card_drop`` below the shipped file's, where both have
  one its LR NIQE no more than ``niqe_rise`` above, and, where a rule sets ``exact_drop``, its
  fraction of the representation recovered exactly no more than ``exact_drop`` below;
* the standing rule: validation PSNR at least ``psnr_gain`` above, the LR's PSNR against the bicubic
  LR no more than ``lr_drop`` below;
* the LR trade: validation PSNR no more than ``trade_psnr_loss`` below, the LR at least
  ``trade_lr_gain`` closer to the bicubic LR and at least ``trade_ratio`` times the PSNR lost;
* the exact trade: the fraction of the representation recovered exactly at least ``exact_gain``
  above, validation PSNR no more than ``exact_psnr_loss`` below, the LR no more than ``lr_drop`` below.

Of several passing candidates the one with the highest validation PSNR ships (:func:`choose`).
A rule file that states other thresholds passes them as a :class:`Rule`; :func:`parse_rule` reads
them as ``NAME=VALUE`` (``validate_weights --rule``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Score:
    """One weights file on the held-out images, as ``validate_weights`` prints it (dB, fractions)."""

    psnr: float
    lr: float
    card: float
    exact: float | None = None
    lr_niqe: float | None = None


@dataclass(frozen=True)
class Rule:
    """The thresholds of the clauses (dB unless named otherwise); the defaults are ``fgrn_soup.md``'s."""

    psnr_gain: float = 0.05
    lr_drop: float = 0.5
    trade_psnr_loss: float = 0.25
    trade_lr_gain: float = 1.0
    trade_ratio: float = 10.0
    exact_gain: float = 0.02
    exact_psnr_loss: float = 0.05
    card_drop: float = 1.0
    niqe_rise: float = 0.05
    exact_drop: float | None = None  # None: no guard on the exact fraction


@dataclass(frozen=True)
class Decision:
    """Whether a candidate passes, the clause that lets it through (None if it fails), and why, in words."""

    passes: bool
    clause: str | None
    why: str


def parse_rule(items: list[str]) -> Rule:
    """The default :class:`Rule` with the thresholds ``items`` name as ``NAME=VALUE`` (``trade_ratio=4``).

    Raises:
        ValueError: an item is not ``NAME=VALUE``, names no threshold of :class:`Rule`, or its value is not a
            finite number.
    """
    names = [field.name for field in fields(Rule)]
    changes: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in names:
            raise ValueError(f"{item!r} is not NAME=VALUE with NAME one of {', '.join(names)}")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"{item!r}: {value!r} is not a finite number")
        changes[name] = number
    return replace(Rule(), **changes)


def _diff(a: float, b: float) -> float:
    return round(a - b, 6)


def decide(shipped: Score, candidate: Score, rule: Rule = Rule()) -> Decision:
    """Judge ``candidate`` against ``shipped`` by ``rule``. Differences are rounded to 1e-6 before they meet a
    threshold, so figures printed to a few decimals compare as written (41.1525 is 0.05 above 41.1025)."""
    d_psnr, d_lr, d_card = (
        _diff(candidate.psnr, shipped.psnr),
        _diff(candidate.lr, shipped.lr),
        _diff(candidate.card, shipped.card),
    )
    facts = [f"PSNR {d_psnr:+.4f} dB", f"LR {d_lr:+.4f} dB", f"test card {d_card:+.4f} dB"]
    guards = []
    if d_card < -rule.card_drop:
        guards.append(f"test card more than {rule.card_drop} dB below")
    if candidate.lr_niqe is not None and shipped.lr_niqe is not None:
        d_niqe = _diff(candidate.lr_niqe, shipped.lr_niqe)
        facts.append(f"LR NIQE {d_niqe:+.4f}")
        if d_niqe > rule.niqe_rise:
            guards.append(f"LR NIQE more than {rule.niqe_rise} above")
    d_exact = None
    if candidate.exact is not None and shipped.exact is not None:
        d_exact = _diff(candidate.exact, shipped.exact)
        facts.append(f"exact {d_exact:+.4f}")
        if rule.exact_drop is not None and d_exact < -rule.exact_drop:
            guards.append(f"exact more than {rule.exact_drop} below")
    said = ", ".join(facts)
    if guards:
        return Decision(False, None, f"{said}: fails the guards ({'; '.join(guards)})")
    clauses = {
        "standing rule": d_psnr >= rule.psnr_gain and d_lr >= -rule.lr_drop,
        "LR trade": d_psnr >= -rule.trade_psnr_loss
        and d_lr >= rule.trade_lr_gain
        and d_lr >= round(rule.trade_ratio * max(0.0, -d_psnr), 6),
        "exact trade": d_exact is not None
        and d_exact >= rule.exact_gain
        and d_psnr >= -rule.exact_psnr_loss
        and d_lr >= -rule.lr_drop,
    }
    clause = next((name for name, holds in clauses.items() if holds), None)
    if clause is None:
        return Decision(False, None, f"{said}: no clause holds")
    return Decision(True, clause, f"{said}: passes by the {clause}")


def choose(shipped: Score, candidates: dict[str, Score], rule: Rule = Rule()) -> str | None:
    """The passing candidate with the highest validation PSNR, or None when none passes."""
    passing = [name for name, score in candidates.items() if decide(shipped, score, rule).passes]
    return max(passing, key=lambda name: candidates[name].psnr, default=None)
