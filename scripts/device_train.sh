#!/usr/bin/env bash
# On a borrowed GPU machine (Keras 3 on JAX, no TensorFlow): unpack the carried training data
# (scripts/device_data.py), train a born-again student of the four stored teacher answers
# (saved_models/teachers/) for MINUTES in one cosine schedule, and leave the float32
# checkpoint in $OUT in parts under 16 MB (what a call can bring back), with the log.
#
#   bash scripts/device_train.sh MINUTES SEED        # the procedure: docs/training.md
#
# Here, the pieces join with `cat model.keras.part* > model.keras`; then
# `train_default_model.py --evaluate-only model.keras ...` scores it and writes its card.
set -euo pipefail
MINUTES=${1:-8}
SEED=${2:-30}
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp/xfer_out}
WORK=${WORK:-/tmp/xfer_device}
mkdir -p "$OUT" "$WORK"
if [ -d "${WHEELS:-.whl}" ] && ls "${WHEELS:-.whl}"/*.whl >/dev/null 2>&1; then
  # Keras and what it needs beyond the machine's image, carried as wheels
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$WORK/site" "${WHEELS:-.whl}"/*.whl
  export PYTHONPATH="$WORK/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" KERAS_BACKEND=${KERAS_BACKEND:-jax}
export XFER_DATA_DIR="$WORK/data" XFER_CACHE_DIR="$WORK/cache"
"$PY" scripts/device_data.py unpack --cache "$WORK/fer2013.npz" --data-dir "$XFER_DATA_DIR"
T=saved_models/teachers
"$PY" scripts/train_default_model.py --train-only --seed "$SEED" --arch resnet_bam_wide \
  --precision mixed_bfloat16 --labels ferplus --second-head fer2013 --second-head-weight 1.0 \
  --posed ckplus48 --posed-share 0.1 --erasing 0.5 --minutes "$MINUTES" --lr "${LR:-2e-3}" \
  --batch-size 128 --steps-per-epoch "${STEPS:-200}" --early-stop 1000 \
  --teacher s22 s21_s1 s24 s27 --teacher-weight 0.5 \
  --teacher-answers $T/s22.answers.npz $T/s21_s1.answers.npz $T/s24.answers.npz \
  $T/s27.answers.npz \
  --cache "$WORK/fer2013.npz" --out "$WORK/model.keras" 2>&1 | tee "$OUT/train.log"
split -b 15M -d "$WORK/model.keras" "$OUT/model.keras.part"
ls -l "$OUT"
