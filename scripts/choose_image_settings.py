"""Choose the default model's crop framing and prior correction on out-of-domain dev sets.

    python scripts/choose_image_settings.py MODEL.keras [MODEL2.keras ...] [--json out.json]
    python scripts/choose_image_settings.py MODEL.keras --apply OUT.keras   # write the choices

Every candidate model is scored through the whole pipeline (dlib detection, crop, model) on the
CK+ full-resolution frames: the last 3 frames of the 40 sequences (their emotion) and the first
frame of each (neutral), with each candidate framing and each power of the prior correction
(probabilities divided by the training class mix ** power, ``ClassifierConfig.prior_correction``;
the mix of the arrays as trained, posed faces included: ``training_prior``),
and on CK+48 (already 48x48 crops framed like FER2013: model only, no neutral class; without
the subjects any of the models trained on, ``--posed`` in the training script). FER2013 test is
never read here. Prints one table. Each model's settings are its row with the best balanced
accuracy (mean recall) on the CK+ full-resolution frames, exact ties to the smaller prior power and
then CK+48; between models (the first is the incumbent), CK+ full-res differences no larger than
one photo can make are ties, CK+48 decides them, and a challenger tied with the incumbent must beat
it on CK+48 beyond subject resampling noise (:mod:`xfer_keras.evaluation.model_selection`). A
challenger tied on both posed sets is then weighed on evidence they do not hold
(:class:`TieEvidence`: the validation split of the training script, beyond image resampling noise
on every head that changed; the capture changes of the CK+ dev photos, within one photo; Grad-CAM localisation);
of several, the first in the order given that passes replaces the incumbent.

``--apply OUT`` (one model): writes the chosen framing and prior correction into the model's
config, then scores Grad-CAM at each candidate layer on the CK+ peak crops cut with that framing
(:func:`xfer_keras.evaluation.localisation.layer_localisation`) and sets the layer picked by
:func:`~xfer_keras.evaluation.localisation.choose_layer` (the finest layer with pointing >= 0.9 and
in:out ratio >= 2); the records go into the config's ``extra`` for the model card.

``--rule cross-dataset`` (one model; :mod:`xfer_keras.evaluation.cross_dataset`) chooses the
shipped answer on faces from other datasets instead: candidates are the head or blend of the two
heads (weight 0, 0.25, 0.5, 0.75, 1 on the ``fer2013`` head's probabilities), the prior-correction
power, the crop framing (the framings above) and mirror averaging on or off; the rule maximises
the mean of the balanced accuracies on the Taiwanese dev set (posed labels, 7 classes) and on the
CK+ full-resolution peaks of subjects never trained on (whole pipeline), ties to the cheaper
setting, and keeps today's shipped answer unless the winner's Taiwanese gain has a 90 %
performer-grouped bootstrap interval (1,000 resamples) above 0. Prints every candidate, the
winner and the interval, writes a JSON record under ``$XFER_CACHE_DIR/cross_dataset/`` and
the command that applies it (``--rule cross-dataset --apply OUT``: a copy of the model with
the chosen framing, mirror and prior correction; the shipped file is never written). Nothing
is trained and FER2013 / FER+ test are never read::

    python scripts/choose_image_settings.py saved_models/emotion_default.keras --rule cross-dataset

``--incumbent MODEL`` judges a retrained trunk against the shipped model by the same rule: the
incumbent's own setting, scored on the same photos, is the answer to beat (its rule score, and a
Taiwanese gain beyond noise); ``--apply`` writes nothing when it stays.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)
from xfer_keras.training.fer2013_arrays import model_labels, training_prior  # noqa: E402
from xfer_keras.evaluation.tie_evidence import TieEvidence  # noqa: E402

from xfer_keras.evaluation.cross_dataset import FRAMING_CANDIDATES, PRIOR_POWERS  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--json", default=None)
    parser.add_argument("--apply", default=None, metavar="OUT",
                        help="write the best framing, prior correction and Grad-CAM layer into a "
                             "copy of the model")
    parser.add_argument("--cache", default="/tmp/xfer_fer2013sharp_48_gray.npz",
                        help="the training script's array cache (for the training class prior)")
    parser.add_argument("--tie-margin", type=float, default=None,
                        help="CK+ full-res balanced accuracy differences between models up to "
                             "this are ties, decided by CK+48, and so are capture-robustness "
                             "losses in step 3 (default: one photo's weight)")
    parser.add_argument("--rule", choices=("ckplus", "cross-dataset"), default="ckplus",
                        help="ckplus: the CK+ dev rule above; cross-dataset: choose the shipped "
                             "answer on the Taiwanese set + unseen CK+ peaks (one model)")
    parser.add_argument("--limit", type=int, default=None,
                        help="cross-dataset: at most N photos per dev set (a quick run)")
    parser.add_argument("--resamples", type=int, default=1000,
                        help="cross-dataset: performer-grouped bootstrap resamples")
    parser.add_argument("--top", type=int, default=None,
                        help="cross-dataset: print only the best N candidates (default: all)")
    parser.add_argument("--in-domain-floor", type=float, default=None,
                        help="cross-dataset: the FER+ majority accuracy on the FER2013 "
                             "validation split a candidate must keep (default: "
                             "cross_dataset.IN_DOMAIN_FLOOR; 0: no floor)")
    parser.add_argument("--incumbent", default=None, metavar="MODEL",
                        help="cross-dataset: the shipped answer is this other model's own "
                             "setting (a retrained trunk challenging the shipped model): the "
                             "winner must beat its rule score, its Taiwanese gain over it must "
                             "not be noise, and --apply writes nothing otherwise")
    args = parser.parse_args(argv)
    if args.incumbent and args.rule != "cross-dataset":
        parser.error("--incumbent is for --rule cross-dataset")
    if args.apply and len(args.models) != 1:
        parser.error("--apply takes exactly one model")
    if args.rule == "cross-dataset":
        if len(args.models) != 1:
            parser.error("--rule cross-dataset takes exactly one model")
        return cross_dataset_main(args)

    import numpy as np

    from xfer_keras.data.image_folders import encode_labels, load_images
    from xfer_keras.emotions import EMOTIONS7
    from xfer_keras.models.classifier import EmotionClassifier, class_weights_of
    from xfer_keras.data.ckplus_frames import (ckplus48_frame, ckplus_fullres_dev_frames,
                                               trained_subjects)
    from xfer_keras.evaluation.dev_sets import FaceSet, score_predictions
    from xfer_keras.evaluation.model_selection import (best_settings, break_posed_tie, choose_model,
                                                     one_photo_margin, posed_tie_challengers)

    frame = ckplus_fullres_dev_frames()
    full = FaceSet.detect(frame)
    onset = full.labels == EMOTIONS7.index("neutral")
    # every model is scored on the same CK+48 crops: none of a subject any of them trained on
    seen = sorted({s for path in args.models
                   for s in trained_subjects(EmotionClassifier.load(path, lazy=True))})
    ck48 = ckplus48_frame(exclude_subjects=seen)
    ck48_images, ck48_labels = load_images(ck48["path"], size=48, channels=1), \
        encode_labels(ck48["emotion"])
    print(f"CK+ full-res: {int((~onset).sum())} peak + {int(onset.sum())} neutral onset frames, "
          f"dlib found {full.found.sum()}; CK+48: {len(ck48_labels)} crops of "
          f"{ck48['subject'].nunique()} subjects" +
          (f" ({len(seen)} subjects a model trained on left out)" if seen else ""))
    rows = []
    print("| model | framing | prior power | CK+ full-res balanced acc (peaks + onsets) | "
          "CK+ peaks acc / macro F1 | CK+48 acc / macro F1 |")
    print("|---|---|---|---|---|---|")
    for path in args.models:
        clf = EmotionClassifier.load(path)
        clf.config.prior_correction = None  # raw probabilities; the powers are applied below
        labels = model_labels(clf)
        prior = training_prior(clf, labels, args.cache)
        p48 = clf.predict_proba(ck48_images)
        for name, kwargs in FRAMING_CANDIDATES.items():
            probs = clf.predict_proba(full.crops(224, **kwargs)) if full.found.any() else None
            for power in PRIOR_POWERS:
                weights = class_weights_of({"prior": prior, "power": power}, 7)
                w = np.ones(7) if weights is None else weights
                pred = full.predictions(None if probs is None else probs * w)
                r_full = score_predictions(full.labels, pred)
                r_peaks = score_predictions(full.labels[~onset], pred[~onset])
                pred48 = (p48 * w).argmax(1)
                c48 = score_predictions(ck48_labels, pred48)
                rows.append({"model": path, "framing": name, "crop": kwargs, "power": power,
                             "prior": prior, "labels": labels, "ckplus_fullres": r_full,
                             "ckplus_peaks": r_peaks, "ckplus48": c48,
                             "ckplus48_pred": pred48.tolist()})
                print(f"| {Path(path).name} | {name} | {power:.2f} | "
                      f"{r_full['balanced_accuracy']:.4f} | {r_peaks['accuracy']:.4f} / "
                      f"{r_peaks['macro_f1']:.4f} | {c48['accuracy']:.4f} / "
                      f"{c48['macro_f1']:.4f} |", flush=True)
    per_model = [best_settings([r for r in rows if r["model"] == path]) for path in args.models]
    margin = one_photo_margin(full.labels) if args.tie_margin is None else args.tie_margin
    best = choose_model(per_model, margin, ck48_labels, ck48["subject"].to_numpy())
    for r in per_model:
        print(f"{r['model']}: {r['framing']}, prior power {r['power']}: CK+ full-res balanced "
              f"{r['ckplus_fullres']['balanced_accuracy']:.4f}, CK+48 balanced "
              f"{r['ckplus48']['balanced_accuracy']:.4f}")
    if "ckplus48_gain_interval" in best:
        low, high = best["ckplus48_gain_interval"]
        print(f"{best['challenger']} ties with {args.models[0]} on CK+ full-res; its CK+48 gain, "
              f"95 % interval over resampled subjects: [{low:+.4f}, {high:+.4f}]")
    ties = (posed_tie_challengers(per_model, margin, ck48_labels, ck48["subject"].to_numpy())
            if best["model"] == args.models[0] else [])
    posed_ties = []
    if ties:  # step 3: the posed sets cannot tell them apart; other dev evidence decides
        evidence = TieEvidence(args.cache, frame, full)
        mine = evidence.of(per_model[0])
        for row, interval in ties:
            decision = break_posed_tie(mine, evidence.of(row), capture_margin=margin)
            posed_ties.append({"model": row["model"], "ckplus48_gain_interval": interval,
                               **decision})
            print(f"{row['model']} ties with {args.models[0]} on both posed sets (CK+48 gain "
                  f"[{interval[0]:+.4f}, {interval[1]:+.4f}]); validation gain per head "
                  + ", ".join(f"{h} [{lo:+.4f}, {hi:+.4f}]"
                              for h, (lo, hi) in decision["validation_gain_intervals"].items())
                  + ", capture changes balanced {:.4f} vs {:.4f}: ".format(
                      *decision["capture_balanced"])
                  + ("replaces it" if decision["replace"] else "; ".join(decision["reasons"])))
            if decision["replace"]:
                best = dict(row, ckplus48_gain_interval=interval, challenger=row["model"],
                            posed_tie=decision)
                break
    print(f"best: {best['model']} with {best['framing']}, prior power {best['power']} "
          f"(CK+ full-res ties within {margin:.4f}, one photo, go to CK+48; the first model "
          "stays unless beaten beyond subject noise, or, tied on both posed sets, beaten on "
          "validation without losing capture robustness beyond one photo)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "per_model": per_model,
                                               "tie_margin": margin, "posed_ties": posed_ties,
                                               "best": best}, indent=2))
    if args.apply:
        peaks = full.subset(~onset)
        apply_choices(EmotionClassifier.load(args.models[0]), best, rows, peaks, Path(args.apply))
    return 0


def apply_choices(clf, best, rows, peaks, out: Path) -> None:
    """Set the chosen framing and Grad-CAM layer in ``clf``'s config and save it to ``out``."""
    from xfer_keras.evaluation.localisation import choose_layer, layer_localisation

    rule = ("framing and prior power together: best balanced accuracy on the CK+ full-res "
            "peak + neutral onset frames (whole pipeline), exact ties to the smaller power, "
            "then CK+48")
    clf.config.framing = best["crop"].get("framing")
    clf.config.crop_margin = float(best["crop"].get("margin", clf.config.crop_margin))
    clf.config.crop_level_eyes = bool(best["crop"].get("level_eyes", False))
    clf.config.extra["framing_choice"] = {
        "rule": rule, "chosen": best["framing"],
        "candidates": {r["framing"]: {"ckplus_peaks_accuracy": r["ckplus_peaks"]["accuracy"],
                                      "ckplus_peaks_macro_f1": r["ckplus_peaks"]["macro_f1"],
                                      "ckplus_fullres_balanced_accuracy":
                                          r["ckplus_fullres"]["balanced_accuracy"]}
                       for r in rows if r["power"] == best["power"]}}
    clf.config.prior_correction = ({"prior": best["prior"], "power": best["power"],
                                    "labels": best["labels"]} if best["power"] else None)
    clf.config.extra["prior_choice"] = {
        "rule": rule, "chosen": best["power"], "labels": best["labels"],
        "candidates": {f"{r['power']:.2f}": {
            "ckplus_fullres_balanced_accuracy": r["ckplus_fullres"]["balanced_accuracy"],
            "ckplus_peaks_accuracy": r["ckplus_peaks"]["accuracy"],
            "ckplus48_accuracy": r["ckplus48"]["accuracy"]}
            for r in rows if r["framing"] == best["framing"]}}
    scores = layer_localisation(clf, peaks.face_crops(224, **clf.crop_options()))
    clf.config.gradcam_layer = choose_layer(scores)
    clf.config.extra["gradcam_layer_choice"] = {
        "rule": "finest layer with pointing >= 0.9 and pooled in:out ratio >= 2 on the CK+ "
                "peak crops, else the closest",
        "chosen": clf.config.gradcam_layer,
        "candidates": {name: {k: r[k] for k in ("cells", "pointing", "ratio_median",
                                                 "ratio_pooled")}
                       for name, r in scores.items()}}
    for name, r in scores.items():
        print(f"  Grad-CAM {name} ({r['cells']}x{r['cells']}): pointing {r['pointing']:.3f}, "
              f"in:out {r['ratio_pooled']:.2f} pooled / {r['ratio_median']:.2f} median")
    clf.save(out)
    print(f"wrote {out}: framing {clf.crop_options()}, Grad-CAM layer {clf.gradcam_layer}")


def cross_dataset_main(args) -> int:
    """``--rule cross-dataset``: score every candidate, apply the rule, print and record it."""
    import time

    from xfer_keras.evaluation import cross_dataset as cd
    from xfer_keras.models.classifier import EmotionClassifier

    start = time.perf_counter()
    clf = EmotionClassifier.load(args.models[0])
    run = cd.ModelRun(clf, cd.default_cache_root())
    suffix = f"_limit{args.limit}" if args.limit else ""
    tw = cd.limit_frame(cd.read_taiwanese(), args.limit)
    ck = cd.limit_frame(cd.ckplus_unseen_peaks(clf), args.limit)
    sets = {"taiwanese": (run.photo_set("taiwanese" + suffix, tw), tw),
            "ckplus": (run.photo_set("ckplus_peaks" + suffix, ck), ck)}
    print(f"model {clf.model_file} (sha256 {run.sha[:12]}); Taiwanese: {len(tw)} photos of "
          f"{tw['subject'].nunique()} performers; CK+ peaks: {len(ck)} photos of "
          f"{ck['subject'].nunique()} subjects never trained on; shipped answer: "
          f"{run.shipped.label()}")
    data = {}
    for key, (photos, _) in sets.items():
        probs = {}
        for framing in cd.FRAMING_CANDIDATES:
            t0 = time.perf_counter()
            probs[framing] = run.photo_probs(photos, framing)
            print(f"  {key}, {framing}: faces {int(probs[framing]['found'].sum())}/"
                  f"{len(photos.paths)} ({time.perf_counter() - t0:.1f} s)", flush=True)
        data[key] = {"labels": photos.labels, "probs": probs}
    settings = cd.candidate_settings(head_weights=cd.head_weights_for(clf))
    floor = cd.IN_DOMAIN_FLOOR if args.in_domain_floor is None else args.in_domain_floor
    floor = floor if floor > 0 else None
    in_domain = run.in_domain(args.cache) if floor is not None else None
    if in_domain is not None:
        print(f"in-domain floor: FER+ majority accuracy >= {floor:g} on the FER2013 validation "
              f"split ({len(in_domain['labels'])} images)")
    rows = cd.score_candidates(settings, data["taiwanese"], data["ckplus"], run.priors,
                               in_domain)
    incumbent = None
    if args.incumbent:
        incumbent = incumbent_row(args, sets, floor)
        print(f"incumbent {args.incumbent}: {incumbent['setting'].label()}")
    decision = cd.decide(rows, run.shipped, data["taiwanese"]["labels"],
                         tw["subject"].to_numpy(), n_boot=args.resamples, floor=floor,
                         incumbent=incumbent)
    ranked = sorted(rows, key=lambda r: (-r["score"], r["setting"].cost()))
    print(f"\n## Candidates ({len(rows)}), best first: rule score = mean of the two balanced "
          "accuracies")
    print("| # | head (fer2013 weight) | prior power | framing | mirror | rule score | "
          "Taiwanese balanced / acc | CK+ peaks balanced / acc | FER+ validation acc |")
    print("|---|---|---|---|---|---|---|---|---|")
    listed = ranked[:args.top] if args.top else ranked
    if incumbent is not None:
        listed = [incumbent] + listed
    for i, r in enumerate(listed, 0 if incumbent is not None else 1):
        s = r["setting"]
        mark = (" (incumbent model)" if r is incumbent else
                " (shipped)" if s == run.shipped and incumbent is None else "")
        held = r.get("in_domain_accuracy")
        kept = "-" if held is None else f"{held:.4f}" + ("" if cd.eligible(r, floor) else
                                                         " (below the floor)")
        print(f"| {i}{mark} | {s.head_weight:g} | {s.power:g} | {s.framing} | "
              f"{'on' if s.mirror else 'off'} | {r['score']:.4f} | "
              f"{r['taiwanese_balanced']:.4f} / {r['taiwanese_accuracy']:.4f} | "
              f"{r['ckplus_balanced']:.4f} / {r['ckplus_accuracy']:.4f} | {kept} |")
    win, cur, test = decision["winner"], decision["shipped"], decision["bootstrap"]
    low, high = test["interval"]
    print(f"\nwinner: {win['setting'].label()}: score {win['score']:.4f} (Taiwanese balanced "
          f"{win['taiwanese_balanced']:.4f}, CK+ peaks balanced {win['ckplus_balanced']:.4f})")
    which = f"incumbent {args.incumbent}" if incumbent is not None else "shipped"
    print(f"{which}: {cur['setting'].label()}: score {cur['score']:.4f} (Taiwanese balanced "
          f"{cur['taiwanese_balanced']:.4f}, CK+ peaks balanced {cur['ckplus_balanced']:.4f})")
    print(f"Taiwanese balanced-accuracy gain of the winner over the shipped answer: "
          f"{win['taiwanese_balanced'] - cur['taiwanese_balanced']:+.4f}; 90 % interval over "
          f"{test['n_resamples']} performer-grouped resamples: [{low:+.4f}, {high:+.4f}] -> "
          + ("not noise: the winner is chosen" if test["passes"] else
             "holds 0 (noise): the shipped answer stays"))
    if incumbent is not None and test["passes"] and not decision["adopt"]:
        print("the winner's rule score is not above the incumbent's: the incumbent stays")
    record = {"rule": cd.RULE, "in_domain_floor": floor,
              "model": str(clf.model_file), "model_sha256": run.sha,
              "incumbent": str(args.incumbent) if args.incumbent else None,
              "limit": args.limit, "n_taiwanese": len(tw), "n_ckplus_peaks": len(ck),
              "priors": {k: v.tolist() for k, v in run.priors.items()},
              "winner": cd.row_record(win), "shipped": cd.row_record(cur),
              "bootstrap": test, "adopt": decision["adopt"],
              "chosen": cd.row_record(decision["chosen"]),
              "best_by_option": cd.best_by_option(rows, floor),
              "candidates": [cd.row_record(r) for r in ranked]}
    out = Path(args.json) if args.json else (
        cd.default_cache_root() / f"choice_{run.sha[:12]}{suffix}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"record: {out}")
    chosen = decision["chosen"]["setting"]
    if args.apply and incumbent is not None and not decision["adopt"]:
        print(f"nothing written to {args.apply}: the incumbent model stays")
    elif args.apply:
        apply_cross_dataset(clf, record, chosen, run, Path(args.apply))
    elif decision["adopt"]:
        limit = f" --limit {args.limit}" if args.limit else ""
        print("apply it (a copy; the shipped file is not touched):\n  python "
              f"scripts/choose_image_settings.py {args.models[0]} --rule cross-dataset{limit} "
              "--apply OUT.keras")
        if 0.0 < chosen.head_weight:
            print(f"  note: the winner answers with the {cd.BLEND_HEAD} head (weight "
                  f"{chosen.head_weight:g}); a classifier config has no field for that yet "
                  "(models/classifier.py), so --apply refuses it")
    else:
        print("nothing to apply: the shipped answer stays")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


def incumbent_row(args, sets: dict, floor) -> dict:
    """The incumbent model's own setting scored on the same dev photos (``sets``: name ->
    (PhotoSet, frame)) and, with a ``floor``, on the in-domain validation crops."""
    from xfer_keras.evaluation import cross_dataset as cd
    from xfer_keras.models.classifier import EmotionClassifier

    run = cd.ModelRun(EmotionClassifier.load(args.incumbent), cd.default_cache_root())
    framing = run.shipped.framing
    data = {key: {"labels": photos.labels, "probs": {framing: run.photo_probs(photos, framing)}}
            for key, (photos, _) in sets.items()}
    in_domain = run.in_domain(args.cache) if floor is not None else None
    return cd.score_candidates([run.shipped], data["taiwanese"], data["ckplus"], run.priors,
                               in_domain)[0]


def apply_cross_dataset(clf, record, chosen, run, out: Path) -> None:
    """Write ``chosen`` (framing, mirror averaging, prior correction of the main head) and the
    rule's record into a copy of ``clf`` at ``out``; the Grad-CAM layer is chosen anew when the
    framing changes. A setting that answers with another head cannot be stored yet."""
    from xfer_keras.evaluation import cross_dataset as cd

    if chosen.head_weight != 0.0:
        raise SystemExit(f"cannot apply {chosen.label()}: the classifier config has no field "
                         f"for answering with the {cd.BLEND_HEAD} head or a blend")
    crop = chosen.crop_kwargs()
    framing_changed = chosen.framing != run.shipped.framing
    clf.config.framing = crop.get("framing")
    clf.config.crop_margin = float(crop.get("margin", clf.config.crop_margin))
    clf.config.crop_level_eyes = bool(crop.get("level_eyes", False))
    clf.config.tta_flip = bool(chosen.mirror)
    prior = run.priors.get("main")
    clf.config.prior_correction = ({"prior": prior.tolist(), "power": chosen.power,
                                    "labels": "ferplus"}
                                   if chosen.power and prior is not None else None)
    clf.config.extra["cross_dataset_choice"] = {k: record[k] for k in (
        "rule", "in_domain_floor", "model_sha256", "n_taiwanese", "n_ckplus_peaks", "winner",
        "shipped", "bootstrap", "adopt", "chosen", "best_by_option")}
    for superseded in ("prior_choice", "framing_choice"):  # the CK+ rule's records
        clf.config.extra.pop(superseded, None)
    if framing_changed:
        from xfer_keras.data.ckplus_frames import ckplus_peak_frames
        from xfer_keras.evaluation.dev_sets import FaceSet
        from xfer_keras.evaluation.localisation import choose_layer, layer_localisation

        peaks = FaceSet.detect(ckplus_peak_frames(3))
        scores = layer_localisation(clf, peaks.face_crops(224, **clf.crop_options()))
        clf.config.gradcam_layer = choose_layer(scores)
    clf.save(out)
    print(f"wrote {out}: {chosen.label()}, Grad-CAM layer {clf.gradcam_layer}")


if __name__ == "__main__":
    raise SystemExit(main())
