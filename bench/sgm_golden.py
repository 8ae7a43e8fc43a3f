"""SGM against the released gen_sgm.py on the golden pair, stage by stage. Prints; not a test.

    .venv/bin/python bench/sgm_golden.py            # colour descriptor and the seeded VGG-19
    .venv/bin/python bench/sgm_golden.py --no-vgg   # skip the VGG-19 runs (~10 s on a 2-core CPU)

Each stage starts from the original's own output of the stage before (stored in
../shared/reference/golden/sgm_case.pt), so each row is the cost of that stage's remaining
difference alone; the end-to-end rows compound them. Settings: ``SGMConfig.faithful()`` and,
for comparison, the fast default ``SGMConfig()``. models/sgm/README.md records one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.sgm import SGMConfig, sgm_flows  # noqa: E402
from models.sgm.descriptors import load_vgg, segment_stats, vgg_descriptors  # noqa: E402
from models.sgm.flow import dis_gray, piecewise_flow, valid_matches  # noqa: E402
from models.sgm.line_map import line_map  # noqa: E402
from models.sgm.matching import affinity, mutual_match  # noqa: E402
from models.sgm.segmentation import (  # noqa: E402
    assign_line_pixels,
    merge_small_regions,
    relabel_by_area,
    segment_lines,
    thin_line_pixels,
    trapped_ball_fill,
)

GOLDEN = REPO.parent / "shared" / "reference" / "golden"
TRIPLET = REPO.parent / "shared" / "samples" / "triplets" / "onepiece_demo_0106-0109-0112"
SIZE = (960, 540)


def unpack(packed) -> np.ndarray:
    return np.unpackbits(packed.numpy())[: SIZE[0] * SIZE[1]].reshape(SIZE[1], SIZE[0]).astype(bool)


def majority(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Each of our labels → the original label most of its pixels have."""
    joint = np.bincount(ours.ravel().astype(np.int64) * 256 + theirs.ravel(), minlength=(int(ours.max()) + 1) * 256)
    return joint.reshape(-1, 256).argmax(1)


def epe(flow: np.ndarray, reference: np.ndarray) -> float:
    return float(np.hypot(*(flow - reference)).mean())


def seeded_vgg(case, folder: Path) -> Path:
    import torchvision

    torch.manual_seed(case["vgg_seed"])
    features = torchvision.models.vgg19(weights=None).features
    for layer in features:
        if isinstance(layer, torch.nn.Conv2d):
            layer.bias.data.normal_(0, 0.01)
    path = folder / "vgg19-seeded.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return path


def timed(function, *args, **kwargs):
    clock = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-vgg", action="store_true", help="skip the seeded VGG-19 rows")
    args = parser.parse_args()
    torch.set_num_threads(2)
    case = torch.load(GOLDEN / "sgm_case.pt", map_location="cpu", weights_only=True)
    frames = [cv2.cvtColor(cv2.resize(cv2.imread(str(TRIPLET / n)), SIZE), cv2.COLOR_BGR2RGB)
              for n in ("frame1.png", "frame3.png")]
    faithful, fast = SGMConfig.faithful(), SGMConfig()
    names = ("1", "3")
    lines = [unpack(case[f"lines{k}_packed"]) for k in names]
    fills = [case[f"fills{k}"].numpy().astype(np.int32) for k in names]
    labels = [case[f"labels{k}"].numpy().astype(np.int32) for k in names]
    rows = []

    # line map from the frames
    for config, label in ((faithful, "faithful"), (fast, "fast")):
        ours = [timed(line_map, f, config) for f in frames]
        rows.append((f"line map ({label})", "pixels differing from the original's lines",
                     " / ".join(f"{int((o != t).sum())}" for (o, _), t in zip(ours, lines)),
                     f"{sum(s for _, s in ours) / 2:.2f} s/frame"))

    # trapped-ball fills from the original's lines
    ours_fills = [timed(trapped_ball_fill, ~t, faithful.ball_radii) for t in lines]
    rows.append(("trapped-ball fill (vectorised)", f"fills (original {case['num_fills'][0]} / {case['num_fills'][1]})",
                 " / ".join(str(np.unique(f).size) for f, _ in ours_fills), f"{ours_fills[0][1]:.2f} s/frame"))
    from_our_fills = [relabel_by_area(thin_line_pixels(merge_small_regions(f, frame, faithful)))[1].size
                      for (f, _), frame in zip(ours_fills, frames)]
    rows.append(("  … then merged", "regions from our fills of the original's lines",
                 " / ".join(map(str, from_our_fills)), ""))

    # merging from the original's fills
    merged = [timed(merge_small_regions, f, frame, faithful) for f, frame in zip(fills, frames)]
    finals = [relabel_by_area(thin_line_pixels(m))[0] for m, _ in merged]
    nearest = [relabel_by_area(assign_line_pixels(m))[0] for m, _ in merged]
    rows.append(("merge (vectorised rounds)", f"regions (original {case['num_regions'][0]} / {case['num_regions'][1]})",
                 " / ".join(str(np.unique(f).size) for f in finals), f"{merged[0][1]:.2f} s/frame"))
    line_share, fill_share = [], []
    for final, theirs, fill in zip(finals, labels, fills):
        agree = majority(final, theirs)[final] == theirs
        line_share.append(agree[fill == 0].mean())
        fill_share.append(agree[fill != 0].mean())
    rows.append(("  … merged pixels", "share of fill pixels in the original's region",
                 " / ".join(f"{v:.4f}" for v in fill_share), ""))
    rows.append(("line pixels (thinning rounds)", "share of line pixels given the original's region",
                 " / ".join(f"{v:.4f}" for v in line_share), ""))
    near_share = [(majority(n, t)[n] == t)[f == 0].mean() for n, t, f in zip(nearest, labels, fills)]
    rows.append(("line pixels (nearest region, fast)", "share of line pixels given the original's region",
                 " / ".join(f"{v:.4f}" for v in near_share), ""))

    # whole segmentation from the frames
    for config, label in ((faithful, "faithful"), (fast, "fast")):
        segs = [timed(segment_lines, f, line_map(f, config), config) for f in frames]
        rows.append((f"segmentation end to end ({label})", "regions",
                     " / ".join(str(s[1].size) for s, _ in segs), f"{segs[0][1]:.2f} s/frame"))

    # matching from the original's descriptors
    stats = [segment_stats(label, int(label.max()) + 1) for label in labels]
    scores = affinity(case["desc1"].numpy(), case["desc3"].numpy(), stats[0], stats[1], SIZE, 3.0, 0.14)
    _, accepted13, _, accepted31 = mutual_match(scores)
    same = (accepted13 == (case["rank13"].numpy() <= 0)).all() and (accepted31 == (case["rank31"].numpy() <= 0)).all()
    rows.append(("matching", f"mutual matches (original {case['mutual_matches'][0]})",
                 f"{int(accepted13.sum())}, {'the same set' if same else 'a different set'}", ""))

    # flow from the original's labels and matches
    for config, label in ((faithful, "faithful: per-pair DIS"), (SGMConfig.faithful(flow_layout="aligned"), "aligned layout"),
                          (fast, "fast")):
        errors, seconds = [], 0.0
        for source, mk, rk, fk in ((0, "match13", "rank13", "flow13"), (1, "match31", "rank31", "flow31")):
            target = 1 - source
            match, accepted = case[mk].numpy(), case[rk].numpy() <= 0
            valid = valid_matches(match, accepted, stats[source], stats[target], SIZE, config)
            grays = [dis_gray(frames[i], labels[i], stats[i].areas.size) for i in (source, target)]
            (flow, _), spent = timed(piecewise_flow, grays[0], grays[1], labels[source], labels[target],
                                     stats[source], stats[target], match, valid, config)
            errors.append(epe(flow, case[fk].numpy()))
            seconds += spent
        rows.append((f"piece-wise flow ({label})", "EPE to the original's flow, px (1→3 / 3→1)",
                     " / ".join(f"{e:.2f}" for e in errors), f"{seconds:.2f} s/pair"))

    # end to end
    with tempfile.TemporaryDirectory() as folder:
        runs = [("faithful, colour descriptor", SGMConfig.faithful(descriptor="color")),
                ("fast, colour descriptor", SGMConfig(descriptor="color"))]
        if not args.no_vgg:
            vgg = str(seeded_vgg(case, Path(folder)))
            labels1 = labels[0]
            model = load_vgg(vgg, "cpu")
            desc, spent = timed(vgg_descriptors, model, frames[0], labels1, int(labels1.max()) + 1, faithful)
            rows.append(("VGG-19 descriptors", "max abs difference to the original's",
                         f"{np.abs(desc - case['desc1'].numpy()).max():.1e}", f"{spent:.2f} s/frame"))
            runs = [("faithful, VGG-19", SGMConfig.faithful(descriptor="vgg", vgg_weights=vgg)),
                    ("fast, VGG-19", SGMConfig(descriptor="vgg", vgg_weights=vgg))] + runs
        valids = [unpack(case["valid13_packed"]), unpack(case["valid31_packed"])]
        for label, config in runs:
            result, spent = timed(sgm_flows, frames[0], frames[1], config)
            agreement = ((result.valid01 == valids[0]).mean() + (result.valid10 == valids[1]).mean()) / 2
            rows.append((f"SGM end to end ({label})", "EPE px (1→3 / 3→1); valid-mask agreement",
                         f"{epe(result.flow01, case['flow13'].numpy()):.2f} / {epe(result.flow10, case['flow31'].numpy()):.2f}; "
                         f"{agreement:.3f}", f"{spent:.2f} s/pair"))

    width = max(len(r[0]) for r in rows)
    measure = max(len(r[1]) for r in rows)
    print(f"{'stage':<{width}}  {'measure':<{measure}}  {'ours (frame 1 / frame 3)':<28}  time")
    for stage, what, value, spent in rows:
        print(f"{stage:<{width}}  {what:<{measure}}  {value:<28}  {spent}")


if __name__ == "__main__":
    main()
