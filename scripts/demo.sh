#!/usr/bin/env bash
# End-to-end demo on the embedded local default (no cloud needed):
# init a model, tag several versions, list, diff, revert, push, clone elsewhere, verify bytes.
set -euo pipefail
# The scratch folder is outside the clone: `cpv init` refuses a folder inside another git
# repository (issue 9), and the demo's repositories must not nest in this one.
if [ -n "${DEMO_DIR:-}" ]; then
  WORK="$DEMO_DIR"; rm -rf "$WORK" && mkdir -p "$WORK"
else
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/cpv-demo.XXXXXX")"
fi
WORK="$(cd "$WORK" && pwd -P)"
export CPV_HOME="$WORK/cpv-home"   # keeps the demo's storage and git remotes out of ~/.cpv
# A throwaway identity, only if git has none configured.
git config user.email >/dev/null 2>&1 || export GIT_AUTHOR_NAME="cpv demo" GIT_AUTHOR_EMAIL="demo@example.com" \
  GIT_COMMITTER_NAME="cpv demo" GIT_COMMITTER_EMAIL="demo@example.com"
cd "$WORK"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
# md5sum is GNU-only (macOS has md5): hash with Python, which cpv needs anyway.
digest() { python -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

step cpv init acme/whisper-small
cd whisper-small
python - <<'PY'
import os
open("checkpoints/model.bin", "wb").write(os.urandom(2_000_000))
PY
step cpv tag -m "lr 3e-4" --metric wer=0.21 --param lr=3e-4
V1=$(digest checkpoints/model.bin)
same_bytes() {  # a mismatch stops the demo (a bare `test … && echo` would not, even under set -e)
  if [ "$(digest checkpoints/model.bin)" != "$V1" ]; then echo "demo FAILED: $1 is not true" >&2; exit 1; fi
  echo "$1"
}
step cpv tag      # unchanged content: no new version
python - <<'PY'
import os
open("checkpoints/model.bin", "wb").write(os.urandom(2_000_000))
open("data/train/rows.jsonl", "w").write("".join(f'{{"text": "sample {i}"}}\n' for i in range(100)))
open("data/validation/rows.jsonl", "w").write("".join(f'{{"text": "val {i}"}}\n' for i in range(10)))
PY
step cpv tag --kind all -m "new data + retrain" --metric wer=0.18
step cpv list
step cpv show v0.2
step cpv diff v0.1 v0.2
step cpv revert v0.1 --kind model
same_bytes "revert: bytes match v0.1"
step cpv status
step cpv push
cd "$WORK"
step cpv clone acme/whisper-small elsewhere
cd elsewhere
step cpv pull v0.1 --kind model
same_bytes "clone + pull v0.1: bytes verified"
step cpv list
echo; echo "demo OK (work dir: $WORK)"
