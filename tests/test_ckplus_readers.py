"""CK+ readers: the original release layout, the shared sequences.csv layout, AAM files."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xfer_keras.data import load_ckplus_sequences, read_aam_landmarks
from xfer_keras.data.ckplus import parse_au_codes, read_dlib68_csv
from xfer_keras.errors import CKPlusFormatError, DataNotFoundError, MissingColumnsError


def _png(path: Path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((12, 16), value, np.uint8)).save(path)


def _original_layout(root: Path) -> Path:
    ck = root / "CK+"
    # S005/001: disgust (3) with FACS; S005/002: contempt (2); S010/001: unlabelled
    for subject, seq, n, code in [("S005", "001", 4, 3), ("S005", "002", 3, 2), ("S010", "001", 3, None),
                                  ("S010", "004", 5, 5)]:
        for f in range(1, n + 1):
            _png(ck / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{f:08d}.png", f)
        (ck / "cohn-kanade-images" / subject / seq / ".DS_Store").write_text("x")
        if code is not None:
            emo = ck / "Emotion" / subject / seq / f"{subject}_{seq}_{n:08d}_emotion.txt"
            emo.parent.mkdir(parents=True, exist_ok=True)
            emo.write_text(f"   {code:.7e}\n")
    facs = ck / "FACS" / "S005" / "001" / "S005_001_00000004_facs.txt"
    facs.parent.mkdir(parents=True)
    facs.write_text("   9.0000000e+00   0.0000000e+00\n   1.7000000e+01   2.0000000e+00\n")
    aam = ck / "Landmarks" / "S005" / "001" / "S005_001_00000004_landmarks.txt"
    aam.parent.mkdir(parents=True)
    aam.write_text("".join(f"   {x:.7e}   {x + 1:.7e}\n" for x in range(68)))
    return ck


def test_original_layout(tmp_path):
    _original_layout(tmp_path)
    records = load_ckplus_sequences(tmp_path)  # the parent folder is searched for CK+/
    assert [r.id for r in records] == ["S005_001", "S010_004"]  # contempt + unlabelled dropped
    first = records[0]
    assert first.emotion == "disgust" and first.au_codes == (9, 17)
    assert first.n_frames == 4 and first.frame_paths[0].name == "S005_001_00000001.png"
    assert records[1].emotion == "happiness" and records[1].au_codes is None
    aam = read_aam_landmarks(next(first.aam_landmarks_dir.glob("*.txt")))
    assert aam.shape == (68, 2) and aam[3].tolist() == [3.0, 4.0]
    with_contempt = load_ckplus_sequences(tmp_path / "CK+", include_contempt=True)
    assert [r.emotion for r in with_contempt] == ["disgust", "contempt", "happiness"]


def test_sequences_csv_layout_and_missing_columns(tmp_path):
    for f in range(1, 4):
        _png(tmp_path / "images" / "S001" / "002" / f"S001_002_{f:08d}.png")
    header = "subject,sequence,emotion,n_frames,peak_au_combination(NetFACS),frames_dir\n"
    (tmp_path / "sequences.csv").write_text(header + "S001,002,happy,3,6_12_25,images/S001/002\n")
    (record,) = load_ckplus_sequences(tmp_path)
    assert (record.subject, record.sequence, record.emotion) == ("S001", "002", "happiness")
    assert record.au_codes == (6, 12, 25) and record.n_frames == 3

    (tmp_path / "sequences.csv").write_text("subject,emotion\nS001,happy\n")
    with pytest.raises(MissingColumnsError, match=r"sequences\.csv.*sequence.*frames_dir"):
        load_ckplus_sequences(tmp_path)
    (tmp_path / "sequences.csv").write_text(header + "S001,002,happy,7,6_12,images/S001/002\n")
    with pytest.raises(DataNotFoundError, match="expected 7 frames"):
        load_ckplus_sequences(tmp_path)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(DataNotFoundError, match="no CK\\+ data"):
        load_ckplus_sequences(tmp_path)
    bad = tmp_path / "bad_landmarks.txt"
    bad.write_text("1 2 3\n")
    with pytest.raises(CKPlusFormatError, match="bad_landmarks.txt"):
        read_aam_landmarks(bad)
    table = tmp_path / "dlib.csv"
    table.write_text("subject,sequence,frame,x0\nS1,001,1,3\n")
    with pytest.raises(MissingColumnsError, match="dlib.csv"):
        read_dlib68_csv(table)


def test_parse_au_codes():
    assert parse_au_codes("1_2_5_25_27") == (1, 2, 5, 25, 27)
    assert parse_au_codes("AU4+L12+7") == (4, 7, 12)
    assert parse_au_codes("") is None and parse_au_codes(float("nan")) is None


@pytest.mark.real_data
def test_shared_ckplus_sequences(ckplus_dir):
    records = load_ckplus_sequences(ckplus_dir)
    assert len(records) == 40
    assert sum(r.n_frames for r in records) == 684
    assert len({r.subject for r in records}) == 10
    assert {r.emotion for r in records} == {"anger", "disgust", "fear", "happiness", "sadness", "surprise"}
    assert all(r.au_codes for r in records)
    assert all(r.frame_paths == sorted(r.frame_paths) for r in records)
    assert load_ckplus_sequences()[0].id == records[0].id  # default: XFER_DATA_DIR
