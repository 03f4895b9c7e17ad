"""benchmarks.reproduce.ship_rule: the clauses of the rule files, checked on decisions the records took."""

import pytest

from benchmarks.reproduce.ship_rule import Rule, Score, choose, decide, parse_rule

# (validation PSNR, LR vs bicubic LR, test card, exact, LR NIQE) as the rule files log them
X4_SHIPPED_BEFORE_GEN2 = Score(34.0461, 41.3398, 22.7510, 0.9715)  # fgrn_x4_half_gen2.md
X2_SHIPPED = Score(41.1025, 41.9630, 37.8324, 0.9684, 5.6268)  # fgrn_x2_guide14.md


def test_the_x4_average_passed_by_the_standing_rule():
    decision = decide(X4_SHIPPED_BEFORE_GEN2, Score(34.0966, 41.2974, 22.7285, 0.9762))
    assert decision.passes and decision.clause == "standing rule"
    assert decision.why.startswith("PSNR +0.0505 dB, LR -0.0424 dB, test card -0.0225 dB, exact +0.0047")


def test_its_children_did_not_and_the_average_is_the_one_that_ships():
    children = {
        "half2-s94": Score(34.0824, 41.2812, 22.8071, 0.9763),
        "half2-s95": Score(34.0803, 41.2992, 22.6386, 0.9760),
    }
    for child in children.values():
        assert decide(X4_SHIPPED_BEFORE_GEN2, child).why.endswith("no clause holds")
    assert choose(X4_SHIPPED_BEFORE_GEN2, children) is None
    pair = Score(34.0966, 41.2974, 22.7285, 0.9762)
    assert choose(X4_SHIPPED_BEFORE_GEN2, {**children, "half2-pair": pair}) == "half2-pair"


def test_the_x2_guide14_children_failed_the_lr_trade_and_the_exact_trade():
    decision = decide(X2_SHIPPED, Score(40.7073, 43.9155, 37.6500, 0.9813, 5.6362))
    assert not decision.passes and decision.clause is None and decision.why.endswith("no clause holds")


def test_the_exact_trade_shipped_the_round_trip_x2():
    shipped = Score(41.0692, 41.8145, 37.5870, 0.9479)  # fast_fgrn_x2_roundtrip2_range.md
    decision = decide(shipped, Score(41.1026, 41.9619, 37.8333, 0.9685))
    assert decision.passes and decision.clause == "exact trade"  # +0.0334 dB alone is short of +0.05


def test_the_test_card_guard_refused_an_lr_trade():
    shipped = Score(40.2617, 41.3830, 35.7065)  # fast_fgrn_x2_hinge_guide_long.md
    decision = decide(shipped, Score(40.11, 43.49, 33.98))  # the trade's clauses hold, the card fell 1.73 dB
    assert not decision.passes and "test card more than 1.0 dB below" in decision.why


def test_the_lr_niqe_guard():
    assert decide(X2_SHIPPED, Score(41.1525, 41.9630, 37.8324, 0.9684, 5.6768)).passes  # +0.05: at the guard
    assert not decide(X2_SHIPPED, Score(41.1525, 41.9630, 37.8324, 0.9684, 5.6769)).passes
    assert decide(X2_SHIPPED, Score(41.1525, 41.9630, 37.8324, 0.9684)).passes  # no NIQE figure: no guard


@pytest.mark.parametrize(
    ("psnr", "lr", "passes"),
    [
        (41.1525, 41.4630, True),  # the standing rule at both thresholds: +0.05 dB, LR -0.5
        (41.1524, 41.9630, False),
        (41.1525, 41.4629, False),
        (40.9025, 43.9630, True),  # the LR trade: -0.2 dB for +2.0 (ten times), within 0.25
        (40.9025, 43.9629, False),
        (40.8524, 45.0000, False),  # more than 0.25 dB lost
        (41.1025, 42.9630, True),  # no PSNR lost: +1 dB of LR is enough
        (41.1025, 42.9629, False),
    ],
)
def test_the_clauses_hold_at_their_thresholds(psnr, lr, passes):
    assert decide(X2_SHIPPED, Score(psnr, lr, 37.8324, 0.9684, 5.6268)).passes is passes


def test_the_exact_trade_at_its_thresholds():
    assert decide(X2_SHIPPED, Score(41.0525, 41.4630, 37.8324, 0.9884)).clause == "exact trade"
    assert not decide(X2_SHIPPED, Score(41.0524, 41.4630, 37.8324, 0.9884)).passes
    assert not decide(X2_SHIPPED, Score(41.0525, 41.4630, 37.8324, 0.9883)).passes
    assert not decide(Score(41.1025, 41.9630, 37.8324), Score(41.1025, 41.9630, 37.8324, 0.99)).passes  # no exact


def test_a_rule_file_may_set_other_thresholds():
    candidate = Score(41.1325, 41.9630, 37.8324)
    assert not decide(X2_SHIPPED, candidate).passes
    assert decide(X2_SHIPPED, candidate, Rule(psnr_gain=0.03)).clause == "standing rule"


def test_choose_ships_the_passing_candidate_with_the_highest_psnr():
    candidates = {
        "a": Score(41.2000, 41.9630, 37.8324),
        "b": Score(41.3000, 41.9630, 36.5000),  # highest PSNR, but the test card fell 1.33 dB
        "c": Score(41.1600, 41.9630, 37.8324),
    }
    assert choose(X2_SHIPPED, candidates) == "a"
    assert choose(X2_SHIPPED, {"c": candidates["c"]}) == "c"
    assert choose(X2_SHIPPED, {"b": candidates["b"]}) is None


def test_parse_rule_sets_the_named_thresholds_and_keeps_the_others():
    rule = parse_rule(["trade_ratio=4", "exact_drop=0.01"])
    assert rule == Rule(trade_ratio=4.0, exact_drop=0.01)
    assert parse_rule([]) == Rule()


@pytest.mark.parametrize("item", ["trade_ratio", "ratio=4", "trade_ratio=four", "trade_ratio=nan", "card_drop=inf"])
def test_parse_rule_names_what_it_cannot_read(item):
    with pytest.raises(ValueError, match=item):
        parse_rule([item])


def test_a_four_to_one_rule_passes_an_lr_trade_that_the_default_fails():
    # a made-up point at 4.6 to one (-0.23 dB for +1.05 dB), inside every limit of fgrn_x2_lr_target.md's rule
    candidate = Score(X2_SHIPPED.psnr - 0.23, X2_SHIPPED.lr + 1.05, X2_SHIPPED.card - 0.1, 0.9690, 5.60)
    assert decide(X2_SHIPPED, candidate).why.endswith("no clause holds")  # 4.6 to one, short of ten
    four = Rule(trade_ratio=4.0)
    assert decide(X2_SHIPPED, candidate, four).clause == "LR trade"
    steeper = Score(X2_SHIPPED.psnr - 0.27, X2_SHIPPED.lr + 1.2, X2_SHIPPED.card, 0.9690, 5.60)
    assert not decide(X2_SHIPPED, steeper, four).passes  # beyond trade_psnr_loss 0.25
    assert choose(X2_SHIPPED, {"a50": candidate, "a62": steeper}, four) == "a50"


def test_the_exact_guard_applies_only_where_a_rule_sets_it():
    candidate = Score(X2_SHIPPED.psnr + 0.06, X2_SHIPPED.lr, X2_SHIPPED.card, X2_SHIPPED.exact - 0.02, 5.62)
    assert decide(X2_SHIPPED, candidate).clause == "standing rule"
    guarded = decide(X2_SHIPPED, candidate, Rule(exact_drop=0.01))
    assert not guarded.passes and guarded.why.endswith("fails the guards (exact more than 0.01 below)")
    assert decide(X2_SHIPPED, candidate, Rule(exact_drop=0.02)).passes  # exactly at the threshold


def test_fgrn_x2_lr_target_shipped_none_by_its_four_to_one_rule():
    shipped = Score(41.7005, 42.0690, 37.7787, 0.9825, 5.6091)  # fgrn_x2_lr_target.md's decision call
    rule = parse_rule(["trade_ratio=4", "exact_drop=0.01"])
    points = {
        "a45": Score(41.4749, 42.9992, 37.7790, 0.9817, 5.6405),  # +0.93 dB of LR: short of +1
        "a50": Score(41.4450, 43.1023, 37.7691, 0.9818, 5.6348),  # -0.2555 dB: beyond -0.25
        "a55": Score(41.4170, 43.2006, 37.7514, 0.9818, 5.6321),
    }
    for point in points.values():
        assert decide(shipped, point, rule).why.endswith("no clause holds")
    assert choose(shipped, points, rule) is None
    assert decide(shipped, points["a50"], Rule(trade_ratio=4.0, trade_psnr_loss=0.26)).clause == "LR trade"
