#!/usr/bin/env bash
# End-to-end demo on the embedded local default (no cloud needed):
# init a model, tag several versions, list, diff, revert, push, clone elsewhere, verify bytes.
set -euo pipefail
WORK="${DEMO_DIR:-$PWD/demo-work}"
rm -rf "$WORK" && mkdir -p "$WORK"
export CPV_HOME="$WORK/cpv-home"   # keeps the demo's storage and git remotes out of ~/.cpv
# A throwaway identity, only if git has none configured.
git config user.email >/dev/null 2>&1 || export GIT_AUTHOR_NAME="cpv demo" GIT_AUTHOR_EMAIL="demo@example.com" \
  GIT_COMMITTER_NAME="cpv demo" GIT_COMMITTER_EMAIL="demo@example.com"
cd "$WORK"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step cpv init acme/whisper-small
cd whisper-small
python - <<'PY'
import os
open("checkpoints/model.bin", "wb").write(os.urandom(2_000_000))
PY
step cpv tag model -m "lr 3e-4" --metric wer=0.21
V1=$(md5sum checkpoints/model.bin | cut -d' ' -f1)
step cpv tag model      # unchanged content: no new version
python - <<'PY'
import os
open("checkpoints/model.bin", "wb").write(os.urandom(2_000_000))
open("data/train/rows.jsonl", "w").write("".join(f'{{"text": "sample {i}"}}\n' for i in range(100)))
open("data/validation/rows.jsonl", "w").write("".join(f'{{"text": "val {i}"}}\n' for i in range(10)))
PY
step cpv tag all -m "new data + retrain" --metric wer=0.18
step cpv list
step cpv show v0.2
step cpv diff v0.1 v0.2
step cpv revert v0.1 model
test "$(md5sum checkpoints/model.bin | cut -d' ' -f1)" = "$V1" && echo "revert: bytes match v0.1"
step cpv status
step cpv push
cd "$WORK"
step cpv clone acme/whisper-small elsewhere
cd elsewhere
step cpv pull v0.1 model
test "$(md5sum checkpoints/model.bin | cut -d' ' -f1)" = "$V1" && echo "clone + pull v0.1: bytes verified"
step cpv list
echo; echo "demo OK (work dir: $WORK)"
