"""Train the default emotion model shipped in saved_models/ (FER2013, CPU, time-boxed).

    nohup nice -n 10 .venv/bin/python scripts/train_default_model.py --minutes 95 \
        --batch-size 128 --steps-per-epoch 200 --early-stop 1000 > /tmp/train_default.log 2>&1 &

(the shipped model: one from-scratch run of this script with teachers, its ``fer2013`` head
refitted by ``--evaluate-only ... --fit-head``, then ``choose_image_settings.py --apply`` and
``--evaluate-only ... --notes saved_models/model_card_notes.md``; the commands are in
docs/training.md).

Data (:mod:`xfer_keras.training.fer2013_arrays`): the sharp FER2013 train copy
($XFER_DATA_DIR/fer2013_sharp/train, test duplicates and conflicting duplicates dropped), a
stratified 10% validation split carved from it (model selection: best epoch on validation
accuracy, checkpointed atomically), FER2013 test for the reported figures only.
Writes ``<out>.keras`` (config embedded), ``<out>.metrics.json``, a confusion-matrix PNG and
``saved_models/MODEL_CARD.md``.

Two inference settings are chosen without test labels: ``input_blur`` (``--input-blur auto``:
the Gaussian sigma by which the blurred train copy differs from sharp faces, measured on pixels
with ``xfer_keras.data.blur``) and ``tta_flip`` (mirror averaging, kept if it helps on the
validation split). ``--evaluate-only MODEL`` redoes just these choices, the test figures and the
card for an already trained model. ``--teacher MODEL [MODEL ...]`` distils: the teacher's own
probabilities (several teachers: their mean) are blended into every training target
(:mod:`xfer_keras.training.distillation`), and ``--teacher-answers`` keeps them per teacher.
``--evaluate-only MODEL --fit-head fer2013`` refits that extra head on the frozen trunk toward
the targets a training run would build (``--posed``, ``--teacher``), the rest of the model
unchanged (:func:`xfer_keras.training.two_heads.fit_head_on_frozen_trunk`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _preparse_isa(argv) -> None:
    """``--isa CAP`` must reach ``ONEDNN_MAX_CPU_ISA`` before TensorFlow is imported (the
    package's AVX2 default only applies when the variable is unset)."""
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--isa=") else (
            argv[i + 1] if arg == "--isa" and i + 1 < len(argv) else None)
        if value:
            os.environ["ONEDNN_MAX_CPU_ISA"] = value


_preparse_isa(sys.argv[1:])
import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)
from xfer_keras.training.fer2013_arrays import (Fer2013Arrays, load_fer2013_arrays,  # noqa: E402
                                               training_targets)


def _inference_lines(clf) -> list[str]:
    """The card's account of the inference settings (blur, mirror averaging, framing, Grad-CAM
    layer) and how each was chosen; none of them on test labels."""
    extra = clf.config.extra
    blur, tta = extra.get("input_blur_choice", {}), extra.get("tta_flip_choice", {})
    lines = ["## Inference settings, chosen without test labels"]
    if "sigma" in blur:
        grad = blur.get("gradient_energy", {})
        how = ("the inputs are blurred by it" if blur.get("applied", True) else
               "below the 1 px warning level, so the inputs stay sharp")
        lines.append(
            f"- `input_blur: {clf.config.input_blur}`: `xfer_keras.data.blur."
            "estimate_relative_blur` (pixels only, no labels) finds the training images blurrier "
            f"than the test images by a Gaussian of sigma {blur['sigma']:.2f} px at "
            f"{blur.get('measured_at', clf.input_size)} px (log-power misfit "
            f"{blur['residual']:.3f}; mean absolute horizontal gradient "
            f"{grad.get('train', float('nan')):.1f} train vs {grad.get('test', float('nan')):.1f} "
            f"test): {how}.")
    elif clf.config.input_blur:
        lines.append(f"- `input_blur: {clf.config.input_blur}` (given by hand).")
    crossed = extra.get("cross_dataset_choice")
    if crossed:
        lines.extend(_cross_dataset_lines(clf, crossed))
    elif "val_accuracy_plain" in tta:
        lines.append(
            f"- `tta_flip: {str(clf.config.tta_flip).lower()}`: averaging each crop with its "
            f"mirror image gives validation accuracy {tta['val_accuracy_flip']:.4f} vs "
            f"{tta['val_accuracy_plain']:.4f} without; on only if it helps there.")
    else:
        lines.append(f"- `tta_flip: {str(clf.config.tta_flip).lower()}`.")
    framing = None if crossed else extra.get("framing_choice")
    if framing:
        table = ", ".join(f"{name} {v['ckplus_peaks_accuracy']:.3f}"
                          for name, v in framing["candidates"].items())
        lines.append(
            f"- Face crops: `{clf.crop_options()}` (`scripts/choose_image_settings.py`: "
            f"{framing['rule']}; CK+ peak-frame accuracy through dlib + crop + model: {table}).")
    prior = None if crossed else extra.get("prior_choice")
    if prior:
        table = ", ".join(f"{power} {v['ckplus_fullres_balanced_accuracy']:.3f}"
                          for power, v in prior["candidates"].items())
        weights = clf.class_weights()
        lines.append(
            f"- Prior correction: probabilities divided by the training class mix "
            f"({prior['labels']} targets) to the power {prior['chosen']} and renormalised "
            "(Bayes' rule from the training mix to a balanced one; "
            f"`scripts/choose_image_settings.py`: {prior['rule']}; balanced accuracy per power: "
            f"{table})"
            + (": class weights " + ", ".join(f"{n} {w:.2f}" for n, w in
                                              zip(clf.class_names, weights))
               if weights is not None else "") + ".")
    layer = extra.get("gradcam_layer_choice")
    if layer:
        table = ", ".join(f"{name} ({v['cells']}x{v['cells']}) {v['pointing']:.2f} / "
                          f"{v['ratio_pooled']:.2f}" for name, v in layer["candidates"].items())
        lines.append(
            f"- Grad-CAM layer `{clf.gradcam_layer}`: {layer['rule']} (pointing / in:out per "
            f"layer: {table}; `benchmarks/gradcam_localisation.py`).")
    return lines + [""]


def _head_lines(head: str, evaluations: dict, fit: dict | None = None) -> list[str]:
    """The card's figures of an extra head (``EmotionClassifier.with_head(head)``), and how it
    was refitted on the frozen trunk (``--fit-head``), if it was."""
    own = evaluations.get(f"fer2013_test_head_{head}")
    plus = evaluations.get(f"fer2013_test_ferplus_majority_head_{head}")
    if own is None:
        return []
    lines = [f"### Extra head `{head}` (`EmotionClassifier.load().with_head({head!r})`)", ""]
    if fit:
        before, after = fit.get("val_accuracy_before"), fit.get("val_accuracy_after")
        lines += [f"- Refitted on the frozen trunk (`--fit-head {head}`): {fit.get('method')}"
                  + (f", L2 {fit['l2']:g}" if "l2" in fit else "")
                  + (f", toward {fit['targets']}" if "targets" in fit else "")
                  + f", {fit.get('n_train_images')} training images"
                  + (f"; validation {before:.4f} before, {after:.4f} after" if after else "")
                  + ". The trunk and the main head are unchanged.", ""]
    lines += [f"- FER2013 labels: **accuracy {own.accuracy:.4f}**, macro F1 {own.macro_f1:.4f} "
              "(no prior correction: the head answers for FER2013's own class mix).", "",
              own.markdown(), ""]
    if plus is not None:
        lines += [f"- FER+ majority labels with this head: accuracy {plus.accuracy:.4f}, macro F1 "
                  f"{plus.macro_f1:.4f}.", ""]
    return lines


def _posed_lines(record: dict | None) -> list[str]:
    """The card's line on the posed faces mixed into training (``--posed``), if any."""
    if not record:
        return []
    return [f"- Posed faces mixed in (`--posed {record['dataset']}`): the {record['n_images']} "
            f"CK+48 crops of {len(record['subjects'])} of its subjects (a seeded "
            f"{record['subjects_share']:.0%} of those outside the full-resolution dev "
            f"sequences), repeated x{record['repeats']} to "
            f"{record['share_of_training']:.1%} of the training arrays, one-hot targets. "
            "Every CK+48 figure of this model leaves these subjects out."]


def _distillation_lines(record: dict | None) -> list[str]:
    """The card's line on the teacher(s) blended into the targets (``--teacher``), if any."""
    if not record:
        return []
    teachers = record.get("teachers") or [{"teacher": record["teacher"],
                                           "architecture": record["teacher_architecture"],
                                           "sha256": record.get("teacher_sha256")}]
    named = " and ".join(
        f"`{Path(t['teacher']).name}` (`{t['architecture']}`"
        + (f", sha256 {t['sha256'][:12]}" if t.get("sha256") else "") + ")" for t in teachers)
    whose = ("the own probabilities of " if len(teachers) == 1
             else f"the mean of the {len(teachers)} teachers' own probabilities, ")
    return [f"- Distilled (`--teacher`): every training target is {1 - record['weight']:.2g} x "
            f"its label + {record['weight']:.2g} x {whose}{named} (heads: "
            f"{', '.join(record['heads'])}), computed once on the unaugmented training "
            f"arrays; the answers agree with {record['teacher_agreement_with_targets']:.1%} of "
            "the labels."]


def _validation_meaning(extra: dict, labels: str | None) -> str:
    """What the card's best validation accuracy is: with a second head, the mean of both heads'
    (each one's figure at the best epoch, from the history); else the main head's."""
    main = " (argmax of the FER+ vote distributions)" if labels == "ferplus" else ""
    history, epoch = extra.get("history") or {}, extra.get("best_epoch") or 0
    first, second = history.get("val_first_accuracy"), history.get("val_second_accuracy")
    if not (first and second and 0 < epoch <= min(len(first), len(second))):
        return main
    heads = ", ".join(f"`{h}`" for h in extra.get("heads") or {}) or "the second"
    return (f", the mean of both heads at the best epoch: the main head {first[epoch - 1]:.4f}"
            f"{main}, the {heads} head {second[epoch - 1]:.4f} against its own labels")


def _cross_dataset_lines(clf, choice: dict) -> list[str]:
    """The card's account of the shipped answer chosen on faces from other datasets
    (``scripts/choose_image_settings.py --rule cross-dataset``): the settings, the rule, the
    winner against the previous answer with its bootstrap interval, and the best rule score each
    option reached."""
    chosen, before, test = choice["chosen"], choice["shipped"], choice["bootstrap"]
    setting = chosen["setting"]
    low, high = test["interval"]
    best = choice.get("best_by_option", {})

    def options(name, fmt=str):
        return ", ".join(f"{fmt(k)} {v:.3f}" for k, v in best.get(name, {}).items())

    correction = clf.config.prior_correction or {}
    return [
        f"- Shipped answer: the main head, `tta_flip: {str(clf.config.tta_flip).lower()}`, crops "
        f"`{clf.crop_options()}`, prior correction power {setting['power']:g} (probabilities "
        f"divided by the training class mix, {correction.get('labels', 'ferplus')} targets, to "
        "that power and renormalised: Bayes' rule from the training mix to a balanced one).",
        f"- Chosen on faces from other datasets by `scripts/choose_image_settings.py --rule "
        f"cross-dataset` (`xfer_keras.evaluation.cross_dataset`): {choice['rule']}. Dev sets: "
        f"Taiwanese ({choice.get('n_taiwanese', '?')} photos; never trained on) and the CK+ "
        f"peaks of unseen subjects ({choice.get('n_ckplus_peaks', '?')} photos).",
        f"- Result: {chosen['label']}: rule score {chosen['score']:.4f} (Taiwanese balanced "
        f"accuracy {chosen['taiwanese_balanced']:.4f}, accuracy {chosen['taiwanese_accuracy']:.4f}; "
        f"CK+ peaks balanced {chosen['ckplus_balanced']:.4f}; FER+ validation "
        f"{(chosen.get('in_domain_accuracy') or float('nan')):.4f}) against {before['label']}: "
        f"{before['score']:.4f} ({before['taiwanese_balanced']:.4f}, "
        f"{before['taiwanese_accuracy']:.4f}; {before['ckplus_balanced']:.4f}; "
        f"{(before.get('in_domain_accuracy') or float('nan')):.4f}). Taiwanese balanced-accuracy "
        f"gain {chosen['taiwanese_balanced'] - before['taiwanese_balanced']:+.4f}, 90 % interval "
        f"over {test['n_resamples']} performer-grouped resamples [{low:+.4f}, {high:+.4f}]"
        + (": adopted." if choice.get("adopt") else ": holds 0, not adopted."),
        *([f"- Best rule score per option (among the settings above the in-domain floor): "
           f"prior power: {options('power')}; framing: {options('framing')}; mirror: "
           f"{options('mirror')}; weight of the `fer2013` head in a blend: "
           f"{options('head_weight')}."] if best else []),
    ]


def write_model_card(path: Path, model_file: Path, clf, evaluations: dict, info: dict,
                     notes: str = "", lead: str = "") -> None:
    """The model card from the model's embedded config and the test evaluations (name ->
    Evaluation); ``lead`` (markdown: the cross-dataset table of ``benchmarks/cross_dataset.py
    --card-table``) opens the card; ``notes`` (markdown: how the settings were chosen and the
    evidence, goals) goes in verbatim before the limits."""
    extra = clf.config.extra
    evaluation = evaluations["fer2013_test"]
    ferplus = evaluations.get("fer2013_test_ferplus_majority")
    lines = [
        "# Default emotion model - model card",
        "",
        f"File: `{model_file.name}` ({model_file.stat().st_size / 1e6:.1f} MB; Keras 3 `.keras`, "
        "config embedded as `xfer_config.json`). Load it with "
        "`EmotionClassifier.load()`.",
        "",
        *([lead.strip(), ""] if lead.strip() else []),
        "## Model",
        f"- Architecture: `{clf.config.architecture}` - "
        f"{extra.get('description', '')}; {clf.model.count_params():,} parameters. "
        "Same BAM family as the paper's `resnet50_bam` (BAM after stages 1-3, r = 16 with a "
        "floor of 8 hidden units, dilation 4), smaller so that it trains on 2 CPU cores.",
        f"- Input: {clf.input_size}x{clf.input_size}, {clf.channels} channel(s) "
        f"({'gray, BT.601 luma of the RGB crop' if clf.channels == 1 else 'RGB'}), "
        f"preprocessing `{clf.preprocessing}` "
        f"({'x / 255' if clf.preprocessing == 'unit' else clf.preprocessing})"
        + (f", after a Gaussian blur of sigma {clf.config.input_blur} px"
           if clf.config.input_blur else "")
        + (", probabilities averaged with the mirror image" if clf.config.tta_flip else "")
        + ".",
        f"- Classes (output order): {', '.join(clf.class_names)}.",
        f"- Grad-CAM layer (default): `{clf.gradcam_layer}`.",
        "",
        *_inference_lines(clf),
        "## Data",
        f"- Training: FER2013 `train`, {info.get('train_copy', 'blurred')} copy "
        "(48x48 gray, internet faces), byte-identical images with conflicting labels dropped"
        + (" and the train files that duplicate test files dropped"
           if info.get("train_copy") == "sharp" else "")
        + f" ({info['n_train_before_split']} images kept), split stratified and seeded into "
        f"{info['n_train']} train / {info['n_val']} validation images (a fixed, seeded split, the same "
        "for every model this script trains). Targets: "
        + ("FER+ vote distributions over the 7 classes (`xfer_keras.data.ferplus`; "
           f"{info.get('n_train_targets')} train images have one)"
           if info.get("labels") == "ferplus" else "the FER2013 folder labels")
        + ". Model selection (best epoch) on validation accuracy only.",
        *_posed_lines(extra.get("posed_training")),
        *_distillation_lines(extra.get("distillation")),
        f"- Test: FER2013 `test` ({info['n_test']} images), used only for the figures below.",
        "- Augmentation: horizontal flip, rotation +-10 deg, zoom +-10%, shift +-10%, "
        "brightness/contrast jitter"
        + (", the studio recipe's gamma and side light"
           if extra.get("recipe", {}).get("augmentation") == "studio" else "")
        + (f", random erasing of one rectangle in {extra['recipe']['erasing']:.0%} of the images"
           if extra.get("recipe", {}).get("erasing") else "")
        + "; class weights (inverse frequency, square root).",
        "",
        "## Training",
        f"- Recipe: Adam lr {extra.get('recipe', {}).get('learning_rate')}, batch "
        f"{extra.get('recipe', {}).get('batch_size')}, "
        + ("cosine decay of the LR over the wall-clock time box"
           if extra.get("schedule") == "time-cosine" else
           "a constant LR" if extra.get("schedule") == "constant" else
           f"LR x{extra.get('recipe', {}).get('reduce_lr_factor')} after "
           f"{extra.get('recipe', {}).get('reduce_lr_patience')} epochs without validation "
           "improvement")
        + (f", early stopping after {extra.get('recipe', {}).get('early_stopping_patience')} "
           "epochs without improvement"
           if extra.get("recipe", {}).get("early_stopping_patience", 0)
           < extra.get("recipe", {}).get("epochs", 0) else "")
        + ("" if extra.get("schedule") == "time-cosine" else ", a wall-clock time box")
        + ". (The paper fine-tunes a pretrained "
        "ResNet50 at lr 1e-5 with LR /10 on plateaus; training from scratch in a short time "
        "box needs a larger rate and a schedule that ends at the box.)",
        f"- Epochs run: {extra.get('epochs_run')} of {extra.get('steps_per_epoch') or 'all'} "
        f"batches each ({extra.get('images_seen', 0):,} training images seen, "
        f"{extra.get('images_seen', 0) / max(1, info['n_train']):.1f} passes over the training "
        f"set; best epoch: {extra.get('best_epoch')}); "
        f"wall time {extra.get('wall_minutes', 0):.1f} min on {extra.get('machine', '?')} "
        "(shared with whatever else ran).",
        *([f"- Precision: {extra['training_precision']} under `ONEDNN_MAX_CPU_ISA="
           f"{extra.get('training_isa')}` for this training process only "
           "(`benchmarks/image_model_speed.py`); the saved model is float32 and runs under the "
           "package's AVX2 cap."] if extra.get("training_precision") else []),
        f"- Best validation accuracy: {extra.get('best_val_accuracy', float('nan')):.4f}"
        + _validation_meaning(extra, info.get("labels")) + ".",
        "",
        "## Results on FER2013 test",
        f"- FER2013 labels ({len(evaluation.y_true)} images): **accuracy "
        f"{evaluation.accuracy:.4f}**, macro F1 {evaluation.macro_f1:.4f}.",
        "",
        evaluation.markdown(),
        "",
        "![confusion matrix](confusion_fer2013_test.png)",
        "",
        *([f"- Without the prior correction (the model's own probabilities, trained on this "
           f"data's class mix): accuracy {raw.accuracy:.4f}, macro F1 {raw.macro_f1:.4f}.", ""]
          if (raw := evaluations.get("fer2013_test_no_prior_correction")) is not None else []),
        *([f"- FER+ majority labels ({len(ferplus.y_true)} test images with a 7-class FER+ "
           "majority; ties, contempt, unknown and not-a-face left out): **accuracy "
           f"{ferplus.accuracy:.4f}**, macro F1 {ferplus.macro_f1:.4f}.", "",
           ferplus.markdown(), ""] if ferplus is not None else []),
        *([f"- FER+ majority labels without the prior correction: **accuracy "
           f"{raw_plus.accuracy:.4f}**, macro F1 {raw_plus.macro_f1:.4f} (FER+ test has the "
           "training mix, so the correction, chosen for balanced posed faces, costs here).", ""]
          if (raw_plus := evaluations.get("fer2013_test_ferplus_majority_no_prior_correction"))
          is not None else []),
        *[line for head in clf.heads
          for line in _head_lines(head, evaluations, extra.get(f"head_{head}_fit"))],
        *([notes.strip(), ""] if notes.strip() else []),
        "## Limits",
        ("- Trained on FER2013 (low-resolution internet faces, noisy labels) and posed CK+ "
         "faces of other subjects: the CK+ dev figures are across people, not across datasets "
         "(same lab, camera and lighting), so they overstate what to expect on other posed "
         "photo sets; see benchmarks/peer_compare.py."
         if extra.get("posed_training") else
         "- Trained on FER2013 only (low-resolution internet faces, noisy labels): expect lower "
         "accuracy on other domains (posed lab faces, e.g. CK+; see "
         "benchmarks/peer_compare.py)."),
        "- The paper's model (ResNet50 + BAM, VGGFace2 pretraining, RAF-DB) is `resnet50_bam`; "
        "train it on a GPU with notebooks/05_train_resnet50_bam.ipynb.",
        "- Research use only; FER2013's licence terms apply to derived weights.",
        "",
    ]
    path.write_text("\n".join(lines))


def fresh_model(args):
    """A freshly initialised ``args.arch`` network (for a resumed net, the frame its
    weights are copied into); with ``--seed`` the same seed gives the same weights (an
    independent line is another seed)."""
    from xfer_keras.models.registry import create

    if args.seed is not None:
        import keras

        keras.utils.set_random_seed(args.seed)
    return create(args.arch, input_size=args.input_size, channels=args.channels,
                  dropout=args.dropout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="resnet_small_bam")
    parser.add_argument("--input-size", type=int, default=48)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=50.0, help="time box for training")
    parser.add_argument("--epochs", type=int, default=None,
                        help="most (pseudo-)epochs; default: 100 with --schedule plateau, none "
                             "with time-cosine (the time box ends training, so an epoch cap "
                             "never cuts the cosine short)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=None,
                        help="seed the weights' initialisation and the data order (an "
                             "independent line: another seed); default: a fresh initialisation, "
                             "data order 0")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--patience", type=int, default=2, help="epochs before LR is divided")
    parser.add_argument("--lr-factor", type=float, default=0.2)
    parser.add_argument("--early-stop", type=int, default=8)
    parser.add_argument("--steps-per-epoch", type=int, default=100,
                        help="batches per (pseudo-)epoch: validation + checkpoint after each; "
                             "0 = full passes over the training set")
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--out", default=str(REPO / "saved_models" /
                                             "emotion_default.keras"))
    parser.add_argument("--cache", default="/tmp/xfer_fer2013_48_gray.npz")
    parser.add_argument("--schedule", choices=("plateau", "time-cosine", "constant"),
                        default="time-cosine",
                        help="LR /factor on plateau (paper), cosine decay over the time box, or "
                             "constant")
    parser.add_argument("--train-copy", choices=("sharp", "blurred"), default="sharp",
                        help="FER2013 train images: fer2013_sharp (default; test duplicates "
                             "dropped) or the shared blurred fer2013/train")
    parser.add_argument("--labels", choices=("fer2013", "ferplus"), default="fer2013",
                        help="training targets: FER2013 folder labels or FER+ vote "
                             "distributions (xfer_keras.data.ferplus)")
    parser.add_argument("--input-blur", default="check",
                        help="'check' (default): measure how much blurrier train is than test "
                             "(pixels only), warn above 1 px, no blur at inference; 'auto': "
                             "blur inputs by the measured sigma (for a blurred train copy); "
                             "or a sigma in px")
    parser.add_argument("--tta-flip", choices=("auto", "on", "off"), default="auto",
                        help="mirror averaging at inference; auto = on if it helps on validation")
    parser.add_argument("--evaluate-only", default=None, metavar="MODEL",
                        help="skip training: choose blur/TTA, evaluate and write the card for "
                             "this trained .keras model (written to --out)")
    parser.add_argument("--resume", default=None,
                        help="start from this .keras classifier (e.g. an earlier checkpoint)")
    parser.add_argument("--isa", default=None,
                        help="oneDNN ISA cap for this training process (e.g. AVX512_CORE_AMX with "
                             "--precision mixed_bfloat16: bf16 on the tile units; "
                             "default: the package's AVX2). Above AVX2, gradients of 1x1 "
                             "stride-2 convolutions with few channels can segfault (tiny_bam "
                             "did; resnet_bam_wide trained 54 epochs without): "
                             "benchmarks/image_model_speed.py --arch ARCH probes it")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32",
                        help="training precision; the saved model is always float32")
    parser.add_argument("--second-head", choices=("fer2013",), default=None,
                        help="also train an extra head on FER2013's own labels beside the FER+ "
                             "head (stored in the config; EmotionClassifier.with_head)")
    parser.add_argument("--second-head-weight", type=float, default=1.0,
                        help="with --second-head: the extra head's loss scale (below 1, its labels "
                             "pull the shared trunk less)")
    parser.add_argument("--fit-head", choices=("fer2013",), default=None,
                        help="with --evaluate-only: (re)fit the extra head on FER2013's own "
                             "labels on the model's frozen features (its own output unchanged), "
                             "toward the targets training would use: --posed faces mixed in, "
                             "--teacher answers blended (two_heads.fit_head_on_frozen_trunk)")
    parser.add_argument("--fit-head-l2", type=float, default=1e-4,
                        help="with --fit-head: the L2 penalty on the head's kernel")
    parser.add_argument("--posed", choices=("ckplus48",), default=None,
                        help="mix posed faces into training: CK+48 crops of a seeded share of its "
                             "subjects (never the full-res dev sequences' subjects), their CK+ "
                             "label the target of every head; every CK+48 figure of the model "
                             "leaves them out (xfer_keras.training.posed_faces)")
    parser.add_argument("--posed-share", type=float, default=0.1,
                        help="with --posed: share of the training arrays (by repetition)")
    parser.add_argument("--posed-subjects", type=float, default=0.6,
                        help="with --posed: share of CK+48's other subjects to train on")
    parser.add_argument("--teacher", nargs="+", default=None, metavar="MODEL",
                        help="distil: blend this trained model's probabilities into the "
                             "training targets (xfer_keras.training.distillation); several "
                             "models: the mean of their probabilities (an ensemble teacher)")
    parser.add_argument("--teacher-weight", type=float, default=0.5,
                        help="the teacher's share of each training target")
    parser.add_argument("--teacher-answers", nargs="+", default=None, metavar="FILE",
                        help="with --teacher: keep the teacher's answers in this .npz file (one "
                             "file per teacher, in their order); a later run on the same "
                             "training arrays, heads and views reads them instead of running "
                             "the teacher (even once it is gone)")
    parser.add_argument("--answers-only", action="store_true",
                        help="with --teacher-answers: write the teacher's answers and stop "
                             "(distil later, even where the teacher file is not)")
    parser.add_argument("--augmentation", choices=("basic", "studio"), default="basic",
                        help="training augmentation (xfer_keras.data.augment): "
                             "studio adds gamma, harder contrast, side light and +-15 degree "
                             "rolls, the changes benchmarks/capture_robustness.py measures")
    parser.add_argument("--input-pipeline", choices=("auto", "tf.data", "layers"),
                        default="auto",
                        help="augmentation in a tf.data pipeline (TensorFlow) or as a layer in "
                             "the training graph (any Keras backend: KERAS_BACKEND=jax on a GPU "
                             "machine without TensorFlow); auto: tf.data on TensorFlow "
                             "(xfer_keras.training.augmentation)")
    parser.add_argument("--erasing", type=float, default=0.0,
                        help="share of training images with one random rectangle replaced by "
                             "noise (random erasing; xfer_keras.data.augment)")
    parser.add_argument("--train-only", action="store_true",
                        help="train and write the best checkpoint (float32) to --out, nothing "
                             "else: no test sets, no card (e.g. on a GPU machine; then "
                             "--evaluate-only here)")
    parser.add_argument("--quick", action="store_true", help="tiny subset, 1 epoch (CI)")
    parser.add_argument("--card", default=None, help="model card path (default next to --out)")
    parser.add_argument("--lead", default=None, metavar="MD",
                        help="markdown that opens the card: the cross-dataset table "
                             "(benchmarks/cross_dataset.py --card-table MD)")
    parser.add_argument("--notes", default=None,
                        help="markdown file put into the card verbatim (how the settings were "
                             "chosen, peer table, goals)")
    args = parser.parse_args(argv)
    if args.teacher_answers and not args.teacher:
        parser.error("--teacher-answers keeps the answers of a --teacher; name the teacher")
    if args.answers_only and not args.teacher_answers:
        parser.error("--answers-only writes the --teacher-answers FILE; name it")
    if args.train_only and args.evaluate_only:
        parser.error("--train-only trains; --evaluate-only does not: give one")
    if args.fit_head and not args.evaluate_only:
        parser.error("--fit-head fits a head on a trained model's trunk: give --evaluate-only")
    if args.teacher_answers and len(args.teacher_answers) != len(args.teacher):
        parser.error(f"--teacher-answers names {len(args.teacher_answers)} files for "
                     f"{len(args.teacher)} teachers; give one per teacher")

    import numpy as np

    from xfer_keras.emotions import EMOTIONS7
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.image import TrainRecipe
    from xfer_keras.training.posed_faces import class_mix

    start = time.time()
    deadline = start + args.minutes * 60
    data = load_fer2013_arrays(args.input_size, args.channels,
                               Path(args.cache) if args.cache else None, args.quick,
                               train_copy=args.train_copy)
    if args.fit_head and args.labels == "ferplus":
        args.second_head = args.fit_head  # its targets beside FER+'s, as training builds them
    x_tr, y_tr, x_va, y_va = training_targets(data, args.labels, args.second_head)
    info = dict(data.info, labels=args.labels, n_train_targets=len(x_tr),
                n_val_targets=len(x_va), second_head=args.second_head)
    # the resumed weights still carry the posed faces they trained on
    posed = (EmotionClassifier.load(args.resume, lazy=True).config.extra.get("posed_training")
             if args.resume else None)
    builds_targets = not args.evaluate_only or args.fit_head  # a head fit needs them too
    if args.posed and builds_targets:
        x_tr, y_tr, posed = mix_in_posed(args, x_tr, y_tr, posed)
        print(f"posed faces: {posed['n_images']} CK+48 crops of {len(posed['subjects'])} "
              f"subjects, x{posed['repeats']} ({posed['share_of_training']:.1%} of training)",
              flush=True)
    distilled = None
    if args.teacher and builds_targets:
        y_tr, distilled = distil_targets(args, x_tr, y_tr)
        if np.ndim(y_va) == 1:  # FER2013 label indices: one-hot, as the blended training targets
            y_va = np.eye(len(EMOTIONS7), dtype=np.float32)[np.asarray(y_va)]
        if args.answers_only:
            print(f"the teacher's answers are in {', '.join(args.teacher_answers)}; "
                  "stopping (--answers-only)", flush=True)
            return 0
    print(f"data: train {x_tr.shape} val {x_va.shape} test {data.x_test.shape}, "
          f"{args.labels} targets ({time.time() - start:.0f} s)", flush=True)

    if args.evaluate_only:
        best = EmotionClassifier.load(args.evaluate_only)
        recipe = TrainRecipe(**best.config.extra.get("recipe", {}))
        print(f"evaluating {args.evaluate_only}: {best}", flush=True)
        if args.fit_head:
            from xfer_keras.training.two_heads import fit_head_on_frozen_trunk

            import numpy as np

            trained_on = (best.config.extra.get("posed_training") or {}).get("subjects")
            if posed and sorted(posed["subjects"]) != sorted(trained_on or ()):
                parser.error("--fit-head --posed: the head would see posed faces the model's "
                             "record does not list (its CK+48 figures would include them); "
                             "give the --posed-subjects it trained with, or no --posed")
            k = len(best.class_names)
            y_fit = np.asarray(y_tr)  # the head's block of two-head targets, else the targets
            y_fit = y_fit[:, k:] if y_fit.ndim == 2 and y_fit.shape[1] == 2 * k else y_fit
            about = ("FER2013 labels" + (", posed CK+48 faces mixed in" if posed else "")
                     + (f", blended with {distilled['teacher']} (weight "
                        f"{distilled['weight']:g})" if distilled else ""))
            record = fit_head_on_frozen_trunk(best, x_tr, y_fit, args.fit_head, args.fit_head,
                                              l2=args.fit_head_l2, x_val=data.x_val,
                                              y_val=data.y_val, targets_about=about)
            if distilled:
                record["distillation"] = distilled
            print(f"extra head {args.fit_head}: {record}", flush=True)
    else:
        # what the run trains on, known before it starts: recorded in the config from the first
        # epoch, so every checkpoint carries it (the chooser leaves the posed
        # subjects out of CK+48; the prior correction divides by the class mix as trained,
        # posed faces included)
        records = {"posed_training": posed, "distillation": distilled,
                   "training_class_mix": [float(v) for v in class_mix(y_tr)]}
        best, recipe = train(args, x_tr, y_tr, x_va, y_va, info, deadline,
                             {k: v for k, v in records.items() if v})
        best.config.extra["wall_minutes"] = (time.time() - start) / 60
        if args.train_only:
            best.config.extra["dataset_info"] = info
            best.save(args.out)
            print(f"wrote {args.out} (--train-only: evaluate it with --evaluate-only)", flush=True)
            return 0
    finalize(best, args, Path(args.out), recipe, data, x_va, y_va, info)
    print(f"done in {(time.time() - start) / 60:.1f} min", flush=True)
    return 0


def mix_in_posed(args, x_tr, y_tr, earlier: dict | None = None):
    """The training arrays with CK+48's posed faces mixed in, and the record for the config
    (with the subjects of ``earlier``, the resumed model's record, if it saw posed faces too)."""
    import numpy as np

    from xfer_keras.data.ckplus_frames import ckplus48_training_subjects
    from xfer_keras.training.posed_faces import ckplus48_training_arrays, mix_in

    subjects = ckplus48_training_subjects(args.posed_subjects)
    x_posed, y_posed = ckplus48_training_arrays(subjects, args.input_size, args.channels,
                                                soft=np.asarray(y_tr).ndim == 2)
    if args.second_head:  # a posed face's CK+ label answers both heads' questions
        y_posed = np.concatenate([y_posed, y_posed], axis=1)
    x_out, y_out, repeats = mix_in(x_tr, y_tr, x_posed, y_posed, args.posed_share)
    record = {"dataset": "ckplus48",
              "subjects": sorted(set(subjects) | set((earlier or {}).get("subjects", ()))),
              "subjects_share": args.posed_subjects, "n_images": len(x_posed),
              "repeats": repeats, "share_of_training": repeats * len(x_posed) / len(x_out),
              "rule": "CK+48 subjects, seeded, never those of the full-res dev sequences; "
                      "left out of every CK+48 figure of this model"}
    return x_out, y_out, record


def distil_targets(args, x_tr, y_tr):
    """The training targets blended with the own probabilities of ``--teacher`` (the mean over
    the teachers when several are named: an ensemble's answers), one block per head trained, and
    the record for the config. With ``--teacher-answers FILE ...`` (one file per teacher) each
    teacher's answers are read from its file when they were computed from these very training
    arrays, heads and views (and this teacher file, if it still exists), else computed and
    written there."""
    import numpy as np

    from xfer_keras.emotions import EMOTIONS7
    from xfer_keras.training.distillation import blend_targets

    heads = (args.second_head,) if args.second_head else ()
    started = time.time()
    answers = args.teacher_answers or [None] * len(args.teacher)
    y_tr = np.asarray(y_tr)
    if y_tr.ndim == 1:  # FER2013 label indices: one-hot, so the teacher's share can be added
        y_tr = np.eye(len(EMOTIONS7), dtype=np.float32)[y_tr]
    k = len(EMOTIONS7)

    def agreement(probs):  # share of training targets whose argmax (main head) the answers share
        return float((probs[:, :k].argmax(1) == y_tr[:, :k].argmax(1)).mean())

    teachers, all_probs = [], []
    for teacher_path, answers_path in zip(args.teacher, answers):
        probs, about, source = _one_teacher_answers(teacher_path, answers_path, x_tr, heads)
        agree = agreement(probs)
        teachers.append({"teacher": str(teacher_path), "architecture": about.get("architecture"),
                         "sha256": about.get("sha256"), "answers": source,
                         "agreement_with_targets": agree})
        all_probs.append(probs)
        print(f"teacher {teacher_path} ({about.get('architecture')}): its answers ({source}) "
              f"agree with {agree:.1%} of the training targets", flush=True)
    probs = np.mean(all_probs, axis=0)
    agree = agreement(probs)
    one = teachers[0] if len(teachers) == 1 else None
    record = {"teacher": " + ".join(t["teacher"] for t in teachers),
              "teacher_architecture": " + ".join(dict.fromkeys(str(t["architecture"])
                                                               for t in teachers)),
              "teacher_sha256": one["sha256"] if one else None,
              "weight": float(args.teacher_weight), "heads": ["main", *heads],
              "views": "the teacher's own inference",
              "teacher_agreement_with_targets": agree,
              "answers": one["answers"] if one else "per teacher (teachers)",
              "how": "offline: the teacher's own probabilities (no prior correction) on the "
                     "unaugmented training arrays, blended into every target"
                     + ("" if one else "; several teachers: the mean of their probabilities")}
    if not one:
        record["teachers"] = teachers
    print(f"distilling from {record['teacher']} ({record['teacher_architecture']}), weight "
          f"{args.teacher_weight:g}: " + (f"its answers ({one['answers']})" if one else
                                          f"the mean of {len(teachers)} teachers' answers")
          + f" agree with {agree:.1%} of the training targets ({time.time() - started:.0f} s)",
          flush=True)
    return blend_targets(y_tr, probs, args.teacher_weight), record


def _one_teacher_answers(teacher_path, answers_path, x_tr, heads):
    """``(probs, about, source)``: one teacher's own probabilities on the training arrays, read
    from ``answers_path`` when stored for exactly these arrays, heads, views (and teacher file,
    while it exists), else computed (and written there)."""
    from xfer_keras.assets import sha256_of
    from xfer_keras.emotions import EMOTIONS7
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.distillation import (load_teacher_answers, save_teacher_answers,
                                                  teacher_answers_key, teacher_probabilities)

    teacher_file = Path(teacher_path)
    key = teacher_answers_key(x_tr, heads,
                              sha256_of(teacher_file) if teacher_file.is_file() else None)
    stored = load_teacher_answers(answers_path, key) if answers_path else None
    if stored is not None:
        probs, about = stored
        source = f"read from {answers_path}"
    else:
        teacher = EmotionClassifier.load(teacher_path)
        about = {"architecture": teacher.config.architecture,
                 "class_names": list(teacher.class_names), "sha256": key["teacher_sha256"]}
        if tuple(about["class_names"]) == EMOTIONS7:
            probs = teacher_probabilities(teacher, x_tr, heads)
            if answers_path:
                save_teacher_answers(answers_path, probs, key, about)
        source = "computed" + (f", written to {answers_path}" if answers_path else "")
    if tuple(about.get("class_names", ())) != EMOTIONS7:  # its columns must be the targets'
        raise ValueError(f"the teacher's classes {about.get('class_names')} of {teacher_path} "
                         f"are not {list(EMOTIONS7)} in that order")
    return probs, about, source


def train(args, x_tr, y_tr, x_va, y_va, info, deadline, records=None):
    """Fit (or resume) the model in the time box; returns (best checkpoint, recipe).
    ``records`` (what the run trains on: posed faces, distillation, class mix) go into the
    config before the first epoch, so checkpoints carry them."""
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.models.registry import get_spec, model_config
    import keras

    from xfer_keras.training.image import (TimeCosineLR, TrainRecipe, fit_classifier,
                                           resolve_input_pipeline)

    if args.precision != "float32":
        keras.mixed_precision.set_global_policy(args.precision)
    if args.resume:
        import shutil
        import tempfile

        resumed = Path(tempfile.gettempdir()) / (Path(args.out).stem + ".resumed.keras")
        shutil.copy(args.resume, resumed)  # the checkpoint below overwrites --out
        loaded = EmotionClassifier.load(resumed)
        model = loaded.model
        if loaded.config.architecture not in (None, args.arch):
            raise SystemExit(f"--resume {args.resume} is a {loaded.config.architecture}, "
                             f"not the --arch {args.arch} to train")
        if args.precision != "float32":  # a loaded model keeps its saved (float32) policy
            weights = model.get_weights()
            model = fresh_model(args)
            model.set_weights(weights)
        print(f"resuming from {args.resume} (copied to {resumed})", flush=True)
    else:
        model = fresh_model(args)
    config = model_config(args.arch, input_size=args.input_size, channels=args.channels,
                          model=model)
    config["extra"] = {"description": get_spec(args.arch).description,
                       "training_data": f"FER2013 train ({args.train_copy} copy, conflicting "
                                        f"and test duplicates dropped), {args.labels} targets"
                                        + (", and posed CK+48 faces of other subjects"
                                           if args.posed else ""),
                       "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores"}
    clf = EmotionClassifier(model, config)
    if args.resume:
        clf.config.extra["resumed_from"] = str(args.resume)
        stored = (loaded.config.extra.get("heads") or {}).get(args.second_head)
        if stored:  # the resumed model's own extra head goes on training (not a fresh copy)
            clf.config.extra["heads"] = {args.second_head: stored}
    print(clf, f"{model.count_params():,} params", flush=True)
    recipe = TrainRecipe(learning_rate=args.lr, batch_size=args.batch_size,
                         epochs=1 if args.quick else epoch_cap(args),
                         reduce_lr_patience=args.patience if args.schedule == "plateau" else 0,
                         reduce_lr_factor=args.lr_factor,
                         early_stopping_patience=args.early_stop,
                         augmentation=args.augmentation, erasing=args.erasing)
    out = Path(args.out)
    extra_callbacks = []
    if args.schedule == "time-cosine":
        extra_callbacks.append(TimeCosineLR(args.lr, deadline))
    clf.config.extra["schedule"] = args.schedule
    pipeline = resolve_input_pipeline(args.input_pipeline)
    clf.config.extra.update(training_backend=keras.backend.backend(), input_pipeline=pipeline)
    clf.config.extra.update(records or {})
    if args.seed is not None:
        clf.config.extra["seed"] = args.seed
    steps = args.steps_per_epoch if not args.quick else 0
    fit_options = {}
    if args.second_head:
        fit_options = two_head_fit_options(clf, args, y_tr, recipe, extra_callbacks)
        recipe = dataclasses.replace(recipe, class_weights=False)  # inside the two-head loss
    history = fit_classifier(clf, x_tr, y_tr, x_va, y_va, recipe=recipe, checkpoint=out,
                             deadline=deadline, extra_callbacks=extra_callbacks,
                             steps_per_epoch=steps or None,
                             seed=0 if args.seed is None else args.seed,
                             input_pipeline=pipeline, **fit_options)
    best = EmotionClassifier.load(out)
    if args.precision != "float32":
        best = float32_copy(best, args)
    epochs_run = len(history.history.get("loss", []))
    best.config.extra.update(epochs_run=epochs_run, steps_per_epoch=steps or None,
                             images_seen=epochs_run * (steps * args.batch_size if steps
                                                       else len(x_tr)),
                             history={k: [float(v) for v in vals]
                                      for k, vals in history.history.items()})
    return best, recipe


def epoch_cap(args) -> int:
    """``--epochs``, else 100 for the plateau schedule and no cap for the time-cosine one: its
    learning rate falls to its floor at the deadline, which a cap reached earlier would cut short
    (a cap of 100 pseudo-epochs stops a run with the rate still at 40 % of its
    start)."""
    if args.epochs is not None:
        return args.epochs
    return 100 if args.schedule == "plateau" else 1_000_000  # time-cosine, constant


def two_head_fit_options(clf, args, y_tr, recipe, extra_callbacks) -> dict:
    """The two-head training model (the classifier's FER+ head + a FER2013 head that starts as
    the resumed model's own, else as a copy of the FER+ head), its loss and metrics, and the
    callback that stores the extra head in the config."""
    import numpy as np

    from xfer_keras.models.heads import training_model
    from xfer_keras.training.image import class_weights
    from xfer_keras.training.two_heads import HeadIntoConfig, two_head_loss, two_head_metrics

    k = len(clf.class_names)
    y_tr = np.asarray(y_tr)
    weights = [class_weights(part.argmax(1), k, 0.5) for part in (y_tr[:, :k], y_tr[:, k:])]
    weights = [[w[i] for i in range(k)] for w in weights]
    stored = (clf.config.extra.get("heads") or {}).get(args.second_head)  # resuming one
    model, head = training_model(clf.model, args.second_head, init_spec=stored)
    compile_options = dict(loss=two_head_loss(*weights, second_scale=args.second_head_weight),
                           metrics=two_head_metrics(k))
    extra_callbacks.append(HeadIntoConfig(clf, head, args.second_head, args.second_head))
    clf.config.extra["second_head_weight"] = float(args.second_head_weight)
    print(f"two heads: {clf.config.architecture} FER+ head + {args.second_head} head (loss "
          f"scale {args.second_head_weight:g}); class weights {np.round(weights, 2).tolist()}",
          flush=True)
    return {"train_model": model, "compile_options": compile_options}


def float32_copy(clf, args):
    """The classifier rebuilt under the float32 policy with the trained weights (mixed-precision
    variables are float32 already), so inference never runs in bf16."""
    import keras

    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.precision import float32_clone

    keras.mixed_precision.set_global_policy("float32")  # for what is built after training too
    model = float32_clone(clf.model)
    model.set_weights(clf.model.get_weights())
    clf.config.extra["training_precision"] = args.precision
    clf.config.extra["training_isa"] = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return EmotionClassifier(model, clf.config)


def check_or_match_blur(best, args, x_train, x_test) -> dict:
    """``--input-blur``: ``check`` (warn above 1 px, inputs stay sharp), ``auto`` (blur inputs
    by the measured sigma) or a sigma used as given."""
    from xfer_keras.training.adaptation import check_input_blur

    if args.input_blur not in ("check", "auto"):
        best.config.input_blur = float(args.input_blur)
        return {"method": "given on the command line"}
    return check_input_blur(best, x_train, x_test, apply=args.input_blur == "auto")


def evaluate_test_sets(best, data: Fer2013Arrays) -> dict:
    """FER2013 test with FER2013 labels and with FER+ majority labels (ties and images without
    a 7-class FER+ target left out): name -> Evaluation."""
    from xfer_keras.data.ferplus import majority_labels, read_ferplus_votes
    from xfer_keras.training.image import evaluate_classifier

    out = {"fer2013_test": evaluate_classifier(best, data.x_test, data.y_test)}
    if best.config.prior_correction:  # also the model's own answers, for the FER2013 class mix
        from xfer_keras.models.classifier import EmotionClassifier

        raw = EmotionClassifier(best.model, dict(best.config.to_dict(), prior_correction=None))
        out["fer2013_test_no_prior_correction"] = evaluate_classifier(raw, data.x_test,
                                                                      data.y_test)
    else:
        raw = None
    try:
        labels, kept = majority_labels(read_ferplus_votes(), data.rel_test)
    except (OSError, ValueError) as error:  # FER+ votes absent: the FER2013 figure only
        print(f"no FER+ test figure: {error}", flush=True)
        return out
    out["fer2013_test_ferplus_majority"] = evaluate_classifier(best, data.x_test[kept],
                                                               labels[kept])
    if raw is not None:
        out["fer2013_test_ferplus_majority_no_prior_correction"] = evaluate_classifier(
            raw, data.x_test[kept], labels[kept])
    for head in best.heads:  # the extra heads (e.g. FER2013's labels), on both label sets
        view = best.with_head(head)
        out[f"fer2013_test_head_{head}"] = evaluate_classifier(view, data.x_test, data.y_test)
        out[f"fer2013_test_ferplus_majority_head_{head}"] = evaluate_classifier(
            view, data.x_test[kept], labels[kept])
    return out


def finalize(best, args, out: Path, recipe, data: Fer2013Arrays, x_va, y_va, info) -> None:
    """Inference settings, test figures, the .keras file, metrics JSON, confusion PNG, card."""
    import numpy as np

    from xfer_keras.evaluation.confusion import plot_confusion
    from xfer_keras.training.adaptation import choose_tta_flip

    blur_record = check_or_match_blur(best, args, data.x_train, data.x_test)
    y_va = np.asarray(y_va)
    if y_va.ndim == 2 and y_va.shape[1] == 2 * len(best.class_names):  # two heads: the main one
        y_va = y_va[:, :len(best.class_names)]
    if args.tta_flip == "auto" and "cross_dataset_choice" in best.config.extra:
        tta_record = best.config.extra.get("tta_flip_choice", {})  # the rule chose the mirror
    elif args.tta_flip == "auto":
        tta_record = choose_tta_flip(best, x_va, y_va.argmax(1) if y_va.ndim == 2 else y_va)
    else:
        best.config.tta_flip, tta_record = args.tta_flip == "on", {"method": "given on the command line"}
    print(f"input_blur {best.config.input_blur} ({blur_record}), tta_flip "
          f"{best.config.tta_flip} ({tta_record})", flush=True)
    best.config.extra.update(dataset_info=info, input_blur_choice=blur_record,
                             tta_flip_choice=tta_record)
    evaluations = evaluate_test_sets(best, data)
    for key, evaluation in evaluations.items():
        best.config.extra[key] = evaluation.to_dict()
    best.save(out)
    metrics_path = out.with_suffix(".metrics.json")
    metrics_path.write_text(json.dumps({"config": best.config.to_dict(),
                                        "recipe": dataclasses.asdict(recipe)}, indent=2))
    card = Path(args.card) if args.card else out.parent / "MODEL_CARD.md"
    evaluation = evaluations["fer2013_test"]
    plot_confusion(evaluation.confusion, best.class_names, card.parent /
                   "confusion_fer2013_test.png",
                   title=f"{best.config.architecture} on FER2013 test "
                         f"(acc {evaluation.accuracy:.3f})")
    notes = Path(args.notes).read_text() if args.notes else ""
    lead = Path(args.lead).read_text() if args.lead else ""
    write_model_card(card, out, best, evaluations, info, notes, lead)
    for key, evaluation in evaluations.items():
        print(f"{key}: accuracy {evaluation.accuracy:.4f} macro F1 {evaluation.macro_f1:.4f} "
              f"({len(evaluation.y_true)} images)")
        print(evaluation.markdown())
    print(f"wrote {out}, {metrics_path}, {card}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
