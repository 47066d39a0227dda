# Shared by the scripts/reference/*.sh wrappers: creates or reuses <repo>/.venv-ref with the
# pinned scripts/reference/requirements.txt. Source it, then call `ensure_ref_venv`; it sets
#   REF_VENV   the venv folder
#   REF_PYTHON its interpreter
# and exports the environment the reference scripts run under (CPU only, deterministic hashing,
# no progress bars). Env: PYTHON, the interpreter used to create the venv (default python3).
# The venv is reinstalled only when requirements.txt changes (its sha256 is kept in the venv).

ensure_ref_venv() {
    local here repo stamp want
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    repo="$(cd "$here/../.." && pwd)"
    REF_VENV="$repo/.venv-ref"
    REF_PYTHON="$REF_VENV/bin/python"
    if [ ! -x "$REF_PYTHON" ]; then
        "${PYTHON:-python3}" -m venv "$REF_VENV"
    fi
    stamp="$REF_VENV/.cram-requirements.sha256"
    want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
        "$REF_PYTHON" -m pip install --disable-pip-version-check -q -r "$here/requirements.txt"
        echo "$want" > "$stamp"
    fi
    export TQDM_DISABLE=1 PYTHONHASHSEED=0 CUDA_VISIBLE_DEVICES="" TOKENIZERS_PARALLELISM=false
}
