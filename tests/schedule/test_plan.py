"""Table tests of the pure planner: cadences written as strings, plans written as strings.

A cadence is one letter per input frame (the drawing it shows) with ``|`` between two
frames that a scene cut separates: "AABBB|CC". A plan is written one word per output frame:
``3`` = input frame 3 at its own time, ``h3`` = frame 3 held, ``d3`` = frame 3 copied
because the pair is bit-identical, ``3>6@1/6`` = in-between of frames 3 and 6 at t = 1/6.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from animeinterp_cli.schedule.detect import PairScores
from animeinterp_cli.schedule.plan import Copy, Synthesize, Target, drawing_spans, parse_rate, plan

RATE_24 = Fraction(24)


def scores_for(cadence: str, *, identical: bool = False) -> list[PairScores]:
    """Pair scores of a cadence: same letter = held drawing (bit-identical if asked)."""
    frames = cadence.replace("|", "")
    cuts_after = set()
    index = -1
    for char in cadence:
        if char == "|":
            cuts_after.add(index)
        else:
            index += 1
    return [
        PairScores(
            identical=same and identical,
            hold=same,
            cut=i in cuts_after,
            hold_score=0.0 if same else 0.5,
            cut_score=0.9 if i in cuts_after else 0.0,
        )
        for i, same in enumerate(a == b and i not in cuts_after for i, (a, b) in enumerate(zip(frames, frames[1:])))
    ]


def times_at(rate: Fraction, count: int, start: Fraction = Fraction(0)) -> list[Fraction]:
    return [start + Fraction(k) / rate for k in range(count)]


def describe(action: Copy | Synthesize) -> str:
    if isinstance(action, Synthesize):
        return f"{action.a}>{action.b}@{action.t}"
    prefix = {"original": "", "hold": "h", "duplicate": "d"}[action.reason]
    return f"{prefix}{action.source}"


def run(cadence: str, factor: int = 2, *, video: bool = False, rate: Fraction = RATE_24, **options) -> list[str]:
    identical = options.pop("identical", False)
    count = len(cadence.replace("|", ""))
    times = times_at(rate, count)
    end_time = count / rate if video else None
    actions = plan(times, scores_for(cadence, identical=identical), Target(factor=factor), end_time=end_time, **options)
    return [describe(action) for action in actions]


# (cadence, factor, video mode, plan)
DEDUP_TABLE = [
    ("twos", "AABBC", 2, False, "0 0>2@1/4 0>2@1/2 0>2@3/4 2 2>4@1/4 2>4@1/2 2>4@3/4 4"),
    ("threes", "AAABBBC", 2, False, "0 0>3@1/6 0>3@1/3 0>3@1/2 0>3@2/3 0>3@5/6 3 3>6@1/6 3>6@1/3 3>6@1/2 3>6@2/3 3>6@5/6 6"),
    ("mixed", "AABBBCD", 2, False, "0 0>2@1/4 0>2@1/2 0>2@3/4 2 2>5@1/6 2>5@1/3 2>5@1/2 2>5@2/3 2>5@5/6 5 5>6@1/2 6"),
    ("ones", "ABC", 3, False, "0 0>1@1/3 0>1@2/3 1 1>2@1/3 1>2@2/3 2"),
    ("factor 4 on twos", "AAB", 4, False, "0 0>2@1/8 0>2@1/4 0>2@3/8 0>2@1/2 0>2@5/8 0>2@3/4 0>2@7/8 2"),
    ("hold at the start", "AAAB", 2, False, "0 0>3@1/6 0>3@1/3 0>3@1/2 0>3@2/3 0>3@5/6 3"),
    ("hold at the end stays still", "ABBB", 2, True, "0 0>1@1/2 1 h1 2 h2 3 h3"),
    ("run of max_hold frames moves", "ABBBBC", 2, False, "0 0>1@1/2 1 1>5@1/8 1>5@1/4 1>5@3/8 1>5@1/2 1>5@5/8 1>5@3/4 1>5@7/8 5"),
    ("a long still pauses, then moves from its last frame", "ABBBBBC", 2, False, "0 0>1@1/2 1 h1 2 h2 3 h3 4 h4 5 5>6@1/2 6"),
    ("cut after a hold", "AAB|BCC", 2, False, "0 0>2@1/4 0>2@1/2 0>2@3/4 2 h2 3 3>4@1/2 4 h4 5"),
    ("cut inside a run of one drawing", "AA|AAB", 2, True, "0 h0 1 h1 2 2>4@1/4 2>4@1/2 2>4@3/4 4 h4"),
    ("cut between single frames", "AB|CD", 2, True, "0 0>1@1/2 1 h1 2 2>3@1/2 3 h3"),
]


@pytest.mark.parametrize(("cadence", "factor", "video", "expected"), [row[1:] for row in DEDUP_TABLE], ids=[row[0] for row in DEDUP_TABLE])
def test_dedup_plan(cadence, factor, video, expected):
    assert run(cadence, factor, video=video) == expected.split()


NO_DEDUP_TABLE = [
    ("near-identical pairs are interpolated", "AABB", False, "0 0>1@1/2 1 1>2@1/2 2 2>3@1/2 3 h3"),
    ("bit-identical pairs are copied", "AABB", True, "0 d0 1 1>2@1/2 2 d2 3 h3"),
    ("cut", "AB|CD", False, "0 0>1@1/2 1 h1 2 2>3@1/2 3 h3"),
]


@pytest.mark.parametrize(("cadence", "identical", "expected"), [row[1:] for row in NO_DEDUP_TABLE], ids=[row[0] for row in NO_DEDUP_TABLE])
def test_plain_pairwise_plan(cadence, identical, expected):
    assert run(cadence, 2, video=True, dedup=False, identical=identical) == expected.split()


def test_bit_identical_holds_collapse_like_near_identical_ones():
    assert run("AABBC", identical=True) == run("AABBC", identical=False)


def test_max_hold_sets_where_a_pause_begins():
    assert run("ABBBC", max_hold=2) == "0 0>1@1/2 1 h1 2 h2 3 3>4@1/2 4".split()
    assert run("ABBBC", max_hold=3) == "0 0>1@1/2 1 1>4@1/6 1>4@1/3 1>4@1/2 1>4@2/3 1>4@5/6 4".split()


def test_cut_flag_wins_over_a_hold_flag():
    scores = scores_for("AAB")
    scores[0] = PairScores(identical=False, hold=True, cut=True, hold_score=0.0, cut_score=0.9)
    actions = plan(times_at(RATE_24, 3), scores, Target(factor=2), end_time=None)
    assert [describe(a) for a in actions] == "0 h0 1 1>2@1/2 2".split()


def test_24_to_60():
    actions = plan(times_at(RATE_24, 4), scores_for("ABCD"), Target(fps=Fraction(60)), end_time=Fraction(4, 24))
    assert [a.time for a in actions] == [Fraction(k, 60) for k in range(10)]
    assert [describe(a) for a in actions] == "0 0>1@2/5 0>1@4/5 1>2@1/5 1>2@3/5 2 2>3@2/5 2>3@4/5 h3 h3".split()


def test_ntsc_23_976_to_59_94_is_24_to_60_slowed_down():
    ntsc = Fraction(1001, 1000)
    film = plan(times_at(RATE_24, 7), scores_for("AAABBBC"), Target(fps=Fraction(60)), end_time=Fraction(7, 24))
    broadcast = plan(
        times_at(Fraction(24000, 1001), 7),
        scores_for("AAABBBC"),
        Target(fps=parse_rate("59.94")),
        end_time=7 / Fraction(24000, 1001),
    )
    assert [describe(a) for a in broadcast] == [describe(a) for a in film]
    assert [a.time for a in broadcast] == [a.time * ntsc for a in film]


def test_30000_1001_to_60000_1001_equals_factor_2():
    rate = Fraction(30000, 1001)
    times, scores = times_at(rate, 9), scores_for("AABBBCCDE")
    by_fps = plan(times, scores, Target(fps=Fraction(60000, 1001)), end_time=9 / rate)
    by_factor = plan(times, scores, Target(factor=2), end_time=9 / rate)
    assert by_fps == by_factor
    assert len(by_fps) == 18


def test_30_to_48_video_keeps_duration():
    actions = plan(times_at(Fraction(30), 10), scores_for("ABCDEFGHIJ"), Target(fps=Fraction(48)), end_time=Fraction(1, 3))
    assert len(actions) == 16  # 1/3 s at 48 fps
    assert actions[-1].time < Fraction(1, 3) <= actions[-1].time + Fraction(1, 48)


def test_fps_image_sequence_stops_at_the_last_frame():
    actions = plan(times_at(RATE_24, 3), scores_for("ABC"), Target(fps=Fraction(60)), end_time=None)
    assert [a.time for a in actions] == [Fraction(k, 60) for k in range(6)]  # 5/60 = 2/24 is the last frame
    assert actions[-1] == Copy(Fraction(1, 12), 2, "original")


def test_fps_grid_starts_at_the_first_frame_time():
    start = Fraction(1, 2)
    actions = plan(times_at(RATE_24, 2, start), scores_for("AB"), Target(fps=Fraction(48)), end_time=start + Fraction(2, 24))
    assert [a.time for a in actions] == [start + Fraction(k, 48) for k in range(4)]


def test_variable_frame_rate_keeps_its_timing():
    times = [Fraction(0), Fraction(1, 24), Fraction(1, 10), Fraction(1, 8)]
    actions = plan(times, scores_for("ABCD"), Target(factor=2), end_time=Fraction(1, 6))
    expected_times = [Fraction(0), Fraction(1, 48), Fraction(1, 24), Fraction(17, 240), Fraction(1, 10), Fraction(9, 80), Fraction(1, 8), Fraction(7, 48)]
    assert [a.time for a in actions] == expected_times
    assert [describe(a) for a in actions] == "0 0>1@1/2 1 1>2@1/2 2 2>3@1/2 3 h3".split()


def test_variable_frame_rate_dedup_uses_true_positions():
    # drawing A shown for 1/24 + 1/12 s, then B: in-betweens at τ / (1/8)
    times = [Fraction(0), Fraction(1, 24), Fraction(1, 8)]
    actions = plan(times, scores_for("AAB"), Target(factor=2), end_time=None)
    assert [describe(a) for a in actions] == "0 0>2@1/6 0>2@1/3 0>2@2/3 2".split()


def test_single_frame():
    assert run("A", 2) == ["0"]
    assert run("A", 3, video=True) == ["0", "h0", "h0"]


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
@pytest.mark.parametrize("cadence", ["ABCDEF", "AABBCC", "AAABBBCCC", "AB|CCCCCCD", "AAAAAAA"])
@pytest.mark.parametrize("dedup", [True, False])
def test_counts(factor, cadence, dedup):
    frames = len(cadence.replace("|", ""))
    assert len(run(cadence, factor, dedup=dedup)) == (frames - 1) * factor + 1
    assert len(run(cadence, factor, video=True, dedup=dedup)) == frames * factor


def random_cadence(rng: random.Random, length: int) -> str:
    letters, cadence = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", ""
    drawing = 0
    while len(cadence.replace("|", "")) < length:
        if cadence and rng.random() < 0.1:
            cadence += "|"
        cadence += letters[drawing % 26] * rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 8])
        drawing += 1
    return cadence


@pytest.mark.parametrize("seed", range(20))
def test_invariants_on_random_cadences(seed):
    rng = random.Random(seed)
    cadence = random_cadence(rng, rng.randint(2, 40))
    count = len(cadence.replace("|", ""))
    rate = rng.choice([Fraction(24), Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001)])
    times = times_at(rate, count)
    scores = scores_for(cadence)
    cut_pairs = {i for i, pair in enumerate(scores) if pair.cut}
    target = rng.choice([Target(factor=rng.randint(2, 5)), Target(fps=parse_rate(rng.choice(["60", "59.94", "48", "50", "120"])))])
    dedup = rng.random() < 0.7
    max_hold = rng.randint(1, 6)
    actions = plan(times, scores, target, end_time=count / rate, dedup=dedup, max_hold=max_hold)

    output_times = [a.time for a in actions]
    assert output_times == sorted(set(output_times))  # strictly increasing
    for action in actions:
        assert isinstance(action.time, Fraction)
        if isinstance(action, Synthesize):
            assert isinstance(action.t, Fraction) and 0 < action.t < 1
            assert 0 < action.b - action.a <= (max_hold if dedup else 1)
            assert not cut_pairs & set(range(action.a, action.b))
            assert action.t == (action.time - times[action.a]) / (times[action.b] - times[action.a])
            assert times[action.a] < action.time < times[action.b]
        else:
            assert times[action.source] <= action.time
            assert (action.reason == "original") == (action.time == times[action.source])
    # the in-betweens of one pair come in one block: its flows serve all its t at once
    pairs = [(a.a, a.b) for a in actions if isinstance(a, Synthesize)]
    blocks = [pair for k, pair in enumerate(pairs) if k == 0 or pair != pairs[k - 1]]
    assert len(blocks) == len(set(blocks))
    # every input frame is shown bit-exact at its own time when the grid lands on it
    if target.factor is not None:
        originals = {a.source for a in actions if isinstance(a, Copy) and a.reason == "original"}
        held_inside_motion = {a.time for a in actions if isinstance(a, Synthesize)} & set(times)
        assert originals | {times.index(t) for t in held_inside_motion} == set(range(count))


def test_no_dedup_shows_every_input_frame_at_its_time():
    cadence = "AABBB|CCDDDD"
    count = len(cadence.replace("|", ""))
    actions = plan(times_at(RATE_24, count), scores_for(cadence), Target(factor=3), end_time=None, dedup=False)
    originals = [a.source for a in actions if isinstance(a, Copy) and a.reason == "original"]
    assert originals == list(range(count))


@pytest.mark.parametrize(
    ("cadence", "dedup", "spans"),
    [
        ("AABBBC", True, [(0, 2), (0, 2), (2, 5), (2, 5), (2, 5), None]),
        ("ABBBBBC", True, [(0, 1), None, None, None, None, (5, 6), None]),
        ("AB|BC", True, [(0, 1), None, (2, 3), None]),
        ("AAB", False, [(0, 1), (1, 2), None]),
        ("A|B", False, [None, None]),
    ],
)
def test_drawing_spans(cadence, dedup, spans):
    assert drawing_spans(scores_for(cadence), dedup=dedup) == spans


# ---- bad input -------------------------------------------------------------------------


def test_rejects_empty_times():
    with pytest.raises(ValueError, match="no input frames"):
        plan([], [], Target(factor=2), end_time=None)


@pytest.mark.parametrize("times", [[Fraction(0), Fraction(0)], [Fraction(1), Fraction(0)]])
def test_rejects_non_increasing_times(times):
    with pytest.raises(ValueError, match="strictly increasing"):
        plan(times, scores_for("AB"), Target(factor=2), end_time=None)


@pytest.mark.parametrize("pairs", [0, 2])
def test_rejects_mismatched_scores(pairs):
    with pytest.raises(ValueError, match="pair scores"):
        plan(times_at(RATE_24, 2), scores_for("ABC")[:pairs], Target(factor=2), end_time=None)


def test_rejects_end_time_before_the_last_frame():
    with pytest.raises(ValueError, match="end time"):
        plan(times_at(RATE_24, 2), scores_for("AB"), Target(factor=2), end_time=Fraction(1, 24))


def test_rejects_max_hold_below_one():
    with pytest.raises(ValueError, match="max_hold"):
        plan(times_at(RATE_24, 2), scores_for("AB"), Target(factor=2), end_time=None, max_hold=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"factor": 1}, "at least 2"),
        ({"factor": 0}, "at least 2"),
        ({"factor": -2}, "at least 2"),
        ({"factor": 2.5}, "integer"),
        ({"factor": True}, "integer"),
        ({"fps": Fraction(0)}, "positive"),
        ({"fps": Fraction(-60)}, "positive"),
        ({"fps": 59.94}, "Fraction"),
        ({}, "exactly one"),
        ({"factor": 2, "fps": Fraction(60)}, "exactly one"),
    ],
)
def test_target_rejects(options, message):
    with pytest.raises(ValueError, match=message):
        Target(**options)


def test_target_takes_an_integer_fps_as_a_fraction():
    assert Target(fps=60).fps == Fraction(60)


# ---- parse_rate ------------------------------------------------------------------------

RATES = [
    ("60", Fraction(60)),
    ("60000/1001", Fraction(60000, 1001)),
    ("59.94", Fraction(60000, 1001)),
    ("23.976", Fraction(24000, 1001)),
    ("23.98", Fraction(24000, 1001)),
    ("29.97", Fraction(30000, 1001)),
    ("119.88", Fraction(120000, 1001)),
    ("47.952", Fraction(48000, 1001)),
    ("12.5", Fraction(25, 2)),  # one decimal: literal
    ("59.95", Fraction(1199, 20)),  # not an NTSC rounding: literal
    ("2997/100", Fraction(2997, 100)),
    (" 48 ", Fraction(48)),
    ("1199/50", Fraction(1199, 50)),
]


@pytest.mark.parametrize(("text", "rate"), RATES)
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["", "abc", "0", "-60", "0.0", "60/0", "1/-2", "nan", "inf", "60 fps", "1.5/2"])
def test_parse_rate_rejects(text):
    with pytest.raises(ValueError) as error:
        parse_rate(text)
    assert "\n" not in str(error.value)
