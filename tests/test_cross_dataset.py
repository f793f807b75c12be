"""The cross-dataset choice: the Taiwanese reader, performer-grouped resampling, the rule on
synthetic predictions (:mod:`xfer_keras.evaluation.cross_dataset`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xfer_keras.emotions import EMOTIONS7
from xfer_keras.evaluation import cross_dataset as cd

HEADER = ("path,posed_emotion,subject,performance_type,view,serial,rater_majority_emotion,"
          "rater_agrees_with_posed,observer_count,rater_max_intensity,rater_entropy,p_happy,"
          "p_sad,p_angry,p_disgusted,p_fearful,p_surprised")


def _write_taiwanese(root):
    folder = root / "taiwanese_fe"
    (folder / "images").mkdir(parents=True)
    rows = [
        "images/0101a02.jpg,neutral,01,baseline,front,02,happy,,100,0.62,1.58,0.59,0.04,0.14,0.22,0,0.01",
        "images/0111b01.jpg,happy,01,theatric,front,01,happy,1,100,0.9,0.1,1,0,0,0,0,0",
        "images/0111c02.jpg,angry,01,theatric,front,02,disgusted,0,100,0.5,1.2,0,0,0.3,0.6,0,0.1",
        "images/1201002.jpg,unlabeled(no_letter),12,baseline,front,002,,,,,,,,,,,",
        "images/1211d01.jpg,sad,12,theatric,front,01,sad,1,100,0.7,0.9,0,0.8,0.1,0.1,0,0",
        "images/1211e01.jpg,fear,12,ekman_facs,front,01,surprised,0,100,0.6,1.0,0,0,0,0,0.3,0.7",
        "images/1211f01.jpg,surprise,12,ekman_facs,front,01,surprised,1,100,0.8,0.5,0,0,0,0,0.1,0.9",
        "images/1211g01.jpg,disgust,12,personal_event,front,01,disgusted,1,100,0.8,0.5,0,0,0.1,0.9,0,0",
    ]
    (folder / "labels.csv").write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return folder


def test_the_taiwanese_reader_maps_labels_keeps_performers_and_leaves_out_the_unlabeled(tmp_path):
    folder = _write_taiwanese(tmp_path)
    frame = cd.read_taiwanese(tmp_path)
    assert list(frame.columns) == ["path", "emotion", "subject", "performance_type",
                                   "rater_emotion"]
    assert len(frame) == 7 and not frame["path"].str.contains("1201002").any()
    assert list(frame["emotion"]) == ["neutral", "happiness", "anger", "sadness", "fear",
                                      "surprise", "disgust"]
    assert set(frame["emotion"]) <= set(EMOTIONS7)
    assert list(frame["subject"]) == ["01"] * 3 + ["12"] * 4  # strings, leading zero kept
    assert frame["path"].iloc[0] == str(folder / "images/0101a02.jpg")
    # the raters had no neutral option: no rater label on neutral rows; canonical names
    assert pd.isna(frame["rater_emotion"].iloc[0])
    assert list(frame["rater_emotion"].iloc[1:]) == ["happiness", "disgust", "sadness",
                                                     "surprise", "surprise", "disgust"]


def test_the_real_taiwanese_set(data_dir):
    if not (data_dir / "taiwanese_fe" / "labels.csv").is_file():
        pytest.skip("taiwanese_fe not under XFER_DATA_DIR")
    frame = cd.read_taiwanese()
    assert len(frame) == 1223 and frame["subject"].nunique() == 29
    assert frame["emotion"].value_counts().to_dict() == {
        "happiness": 226, "anger": 200, "disgust": 198, "sadness": 197, "surprise": 182,
        "fear": 151, "neutral": 69}
    emotional = frame["emotion"] != "neutral"
    assert frame.loc[emotional, "rater_emotion"].notna().all()
    assert frame.loc[~emotional, "rater_emotion"].isna().all()
    agree = (frame.loc[emotional, "rater_emotion"] == frame.loc[emotional, "emotion"]).sum()
    assert agree == 896  # the README's raters' agreement with the posed labels


def test_no_performer_is_split_across_bootstrap_resamples():
    groups = np.repeat(["a", "b", "c", "d", "e"], [3, 5, 1, 7, 4])
    rng = np.random.default_rng(1)
    groups = groups[rng.permutation(len(groups))]  # members need not be contiguous
    sizes = {g: int((groups == g).sum()) for g in np.unique(groups)}
    for pick in cd.group_resamples(groups, n=200, seed=3):
        drawn = pd.Series(groups[pick]).value_counts()
        for g, count in drawn.items():
            assert count % sizes[g] == 0  # whole performers only
            members = np.flatnonzero(groups == g)
            assert np.bincount(pick, minlength=len(groups))[members].min() == count // sizes[g]
        assert drawn.index.nunique() <= 5 and sum(drawn // pd.Series(sizes)[drawn.index]) == 5


def _performers(n_performers=20, per=30, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(7), n_performers * per // 7 + 1)[:n_performers * per]
    labels = labels[rng.permutation(len(labels))]
    groups = np.repeat(np.arange(n_performers), per)
    return labels, groups, rng


def test_the_bootstrap_refuses_a_gain_that_is_noise_and_accepts_a_real_one():
    labels, groups, rng = _performers()
    old = np.where(rng.random(len(labels)) < 0.5, labels, (labels + 1) % 7)
    # noise: as many images turned right as turned wrong, spread over performers
    noisy = old.copy()
    wrong, right = np.flatnonzero(old != labels), np.flatnonzero(old == labels)
    noisy[rng.choice(wrong, 15, replace=False)] = labels[rng.choice(wrong, 15, replace=False)]
    flip = rng.choice(wrong, 15, replace=False)
    noisy[flip] = labels[flip]
    lose = rng.choice(right, 15, replace=False)
    noisy[lose] = (labels[lose] + 2) % 7
    test = cd.not_noise(labels, noisy, old, groups)
    assert not test["passes"] and test["interval"][0] <= 0 <= test["interval"][1]
    # a real gain: a fifth of every performer's wrong answers turned right
    better = old.copy()
    fixed = [i for i in wrong if rng.random() < 0.2]
    better[fixed] = labels[fixed]
    test = cd.not_noise(labels, better, old, groups)
    assert test["passes"] and test["interval"][0] > 0
    assert test["n_resamples"] == 1000 and test["level"] == 0.9


def test_the_bootstrap_groups_by_performer():
    """A gain that one performer of twenty makes is noise across performers, though it is
    far beyond noise when the images are resampled one by one."""
    from xfer_keras.evaluation.model_selection import paired_bootstrap_gain

    labels, groups, rng = _performers()
    old = np.where(rng.random(len(labels)) < 0.5, labels, (labels + 1) % 7)
    new = old.copy()
    one = groups == 7
    new[one] = labels[one]  # performer 7 all right
    assert paired_bootstrap_gain(new == labels, old == labels)[0] > 0  # per image: "real"
    test = cd.not_noise(labels, new, old, groups)
    assert not test["passes"]  # per performer: noise


def _row(score_tw, score_ck, **setting):
    s = cd.Setting(**{"head_weight": 0.0, "power": 0.0, "framing": "fer2013 (eyes level)",
                      "mirror": True, **setting})
    row = {"setting": s, "taiwanese_balanced": score_tw, "ckplus_balanced": score_ck}
    row["score"] = cd.rule_score(row)
    return row


def test_the_rule_takes_the_best_mean_and_ties_go_to_the_cheaper_setting():
    rows = [_row(0.5, 0.9), _row(0.6, 0.9, head_weight=1.0), _row(0.62, 0.86, head_weight=0.5)]
    assert cd.choose_setting(rows)["setting"].head_weight == 1.0  # 0.75 beats 0.74
    # the same mean: mirror off is cheaper than mirror on
    tied = [_row(0.6, 0.9, mirror=True), _row(0.7, 0.8, mirror=False)]
    assert cd.choose_setting(tied)["setting"].mirror is False
    # one head is cheaper than a blend, no prior correction than one, smaller power first
    tied = [_row(0.6, 0.9, head_weight=0.5, mirror=False),
            _row(0.6, 0.9, head_weight=1.0, power=0.5, mirror=False),
            _row(0.6, 0.9, head_weight=1.0, power=0.25, mirror=False)]
    assert cd.choose_setting(tied)["setting"] == tied[2]["setting"]
    tied.append(_row(0.6, 0.9, head_weight=0.0, power=0.0, mirror=False))
    assert cd.choose_setting(tied)["setting"] == tied[3]["setting"]
    # the framing's order breaks what is left; a margin widens the tie
    a = _row(0.6, 0.9, framing="fer2013_upright", mirror=False)
    b = _row(0.6, 0.9, framing="box, margin 0.1", mirror=False)
    assert cd.choose_setting([a, b])["setting"].framing == "box, margin 0.1"
    c = _row(0.61, 0.9, mirror=True)
    assert cd.choose_setting([a, c])["setting"] == c["setting"]
    assert cd.choose_setting([a, c], tie_margin=0.01)["setting"] == a["setting"]
    with pytest.raises(ValueError):
        cd.choose_setting([])


def test_the_in_domain_floor_leaves_out_what_costs_the_wild_faces():
    """A candidate below the in-domain floor never wins, however it scores on the posed sets;
    rows scored without in-domain figures are not judged by it; no eligible row is an error."""
    best, kept = _row(0.7, 0.9, power=1.0), _row(0.6, 0.9, power=0.5)
    best["in_domain_accuracy"], kept["in_domain_accuracy"] = 0.78, 0.83
    assert cd.choose_setting([best, kept])["setting"].power == 1.0  # no floor: the best mean
    assert cd.choose_setting([best, kept], floor=0.80)["setting"].power == 0.5
    assert cd.eligible(_row(0.1, 0.1), 0.80)  # not scored in-domain
    with pytest.raises(ValueError, match="floor"):
        cd.choose_setting([best], floor=0.80)
    scored = cd.score_candidates(
        [cd.Setting(0.0, 0.0, "f", False)],
        {"labels": np.array([0]), "probs": {"f": {"main": np.eye(7)[[0]]}}},
        {"labels": np.array([1]), "probs": {"f": {"main": np.eye(7)[[1]]}}}, {},
        in_domain={"labels": np.array([0, 1]), "probs": {"main": np.eye(7)[[0, 2]]}})
    assert scored[0]["in_domain_accuracy"] == 0.5


def test_decide_keeps_the_shipped_answer_unless_the_gain_is_beyond_noise():
    labels, groups, rng = _performers()
    old = np.where(rng.random(len(labels)) < 0.5, labels, (labels + 1) % 7)
    shipped = cd.Setting(0.0, 0.0, "fer2013 (eyes level)", True)

    def row(setting, pred, ck):
        from xfer_keras.evaluation.dev_sets import balanced_accuracy

        r = {"setting": setting, "taiwanese_pred": pred,
             "taiwanese_balanced": balanced_accuracy(labels, pred), "ckplus_balanced": ck}
        r["score"] = cd.rule_score(r)
        return r

    slightly = old.copy()
    k = np.flatnonzero(old != labels)[:3]
    slightly[k] = labels[k]  # 3 images of 600: a better score, but noise
    rows = [row(shipped, old, 0.95), row(cd.Setting(1.0, 0.0, "fer2013 (eyes level)", True),
                                         slightly, 0.95)]
    d = cd.decide(rows, shipped, labels, groups)
    assert d["winner"] is rows[1] and not d["adopt"] and d["chosen"] is rows[0]
    much = np.where(rng.random(len(labels)) < 0.3, labels, old)
    rows.append(row(cd.Setting(0.5, 0.25, "box, margin 0.1", False), much, 0.95))
    d = cd.decide(rows, shipped, labels, groups)
    assert d["winner"] is rows[2] and d["adopt"] and d["chosen"] is rows[2]
    with pytest.raises(ValueError):  # the shipped answer must be a candidate
        cd.decide(rows[1:], shipped, labels, groups)
    # another model's shipped answer as the incumbent (a retrained trunk challenging it): the
    # winner must pass the same test against it and beat its rule score
    incumbent = row(shipped, old, 0.95)
    d = cd.decide(rows[1:], shipped, labels, groups, incumbent=incumbent)
    assert d["shipped"] is incumbent and d["adopt"] and d["chosen"] is rows[2]
    strong = row(shipped, much, 0.99)  # the incumbent already answers as well, and better on CK+
    d = cd.decide(rows[1:], shipped, labels, groups, incumbent=strong)
    assert not d["adopt"] and d["chosen"] is strong


def test_answers_blend_heads_mirror_and_correct_the_prior():
    rng = np.random.default_rng(0)
    probs = {name: rng.dirichlet(np.ones(7), 5).astype(np.float32)
             for name in ("main", "main_flip", "fer2013", "fer2013_flip")}
    probs["main"][2] = np.nan  # a missed face
    skewed = np.linspace(1, 2, 7)
    priors = {"main": np.full(7, 1 / 7), "fer2013": skewed / skewed.sum()}
    s = cd.Setting(0.0, 0.0, "box, margin 0.1", False)
    np.testing.assert_allclose(cd.answer(probs, s, priors), probs["main"])
    m = cd.answer(probs, cd.Setting(1.0, 0.0, "box, margin 0.1", True), priors)
    np.testing.assert_allclose(m, 0.5 * (probs["fer2013"] + probs["fer2013_flip"]), rtol=1e-6)
    blend = cd.answer(probs, cd.Setting(0.25, 0.0, "box, margin 0.1", False), priors)
    np.testing.assert_allclose(blend[0], 0.75 * probs["main"][0] + 0.25 * probs["fer2013"][0],
                               rtol=1e-6)
    # a uniform prior changes nothing; a skewed one moves mass to the rarer classes
    np.testing.assert_allclose(cd.answer(probs, cd.Setting(0.0, 1.0, "box, margin 0.1", False),
                                         priors)[[0, 1, 3]], probs["main"][[0, 1, 3]], rtol=1e-5)
    corrected = cd.answer(probs, cd.Setting(1.0, 1.0, "box, margin 0.1", False), priors)
    np.testing.assert_allclose(corrected.sum(1), 1.0, rtol=1e-6)
    assert (corrected[:, 0] > probs["fer2013"][:, 0]).all()
    pred = cd.predictions(cd.answer(probs, s, priors))
    assert pred[2] == -1 and (pred[[0, 1, 3, 4]] >= 0).all()


def test_settings_cost_candidates_and_the_shipped_framing():
    settings = cd.candidate_settings()
    assert len(settings) == len(cd.FRAMING_CANDIDATES) * 5 * 5 * 2 == len(set(settings))
    cheap = cd.Setting(0.0, 0.0, "box, margin 0.0", False)
    assert min(settings, key=cd.Setting.cost) == cheap
    assert cd.framing_name({"framing": "fer2013"}) == "fer2013 (eyes level)"
    assert cd.framing_name({"margin": 0.1}) == "box, margin 0.1"
    assert cd.framing_name({"margin": 0.1, "level_eyes": True}) == "box, margin 0.1, eyes level"
    with pytest.raises(KeyError):
        cd.framing_name({"margin": 0.33})


def test_set_scores_per_performer_and_raters():
    labels = np.array([0, 1, 2, 3, 4, 5])
    pred = np.array([0, 1, -1, 3, 0, 5])
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    raters = ["anger", "fear", None, "happiness", None, "surprise"]
    r = cd.set_scores(labels, pred, groups, raters, n_boot=100)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["group_accuracy_mean"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert r["rater_n"] == 4 and r["rater_agreement"] == pytest.approx(2 / 4)  # anger, happiness
    assert r["recall"]["fear"] == 0.0 and r["faces_found"] == 5
    low, high = r["accuracy_interval"]
    assert 0.5 - 1e-9 <= low <= high <= 1.0


def test_array_cache_stores_and_reuses(tmp_path):
    cache = cd.ArrayCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3.0), "found": np.array([True, False, True])}

    key = {"kind": "photos_t", "model": "abc", "crop": {"margin": 0.1}}
    first = cache.get(key, compute)
    again = cache.get(dict(key), compute)
    assert len(calls) == 1 and np.array_equal(first["x"], again["x"])
    cache.get(dict(key, model="other"), compute)
    assert len(calls) == 2
    assert cd.ArrayCache(None).path(key) is None


def test_a_model_with_one_head_is_scored_on_its_main_head_alone():
    from types import SimpleNamespace

    assert cd.head_weights_for(SimpleNamespace(heads=("fer2013",))) == cd.HEAD_WEIGHTS
    assert cd.head_weights_for(SimpleNamespace(heads=())) == (0.0,)
    settings = cd.candidate_settings(head_weights=cd.head_weights_for(SimpleNamespace(heads=())))
    assert {s.head_weight for s in settings} == {0.0}
