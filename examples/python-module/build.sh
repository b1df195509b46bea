#!/usr/bin/env bash
# Build the mention-density module into target/guest-py/mention-density.wasm.
#
# componentize-py (pinned in requirements.txt) is installed from PyPI into a
# virtual environment under target/guest-py/venv the first time, and reused
# while its version matches the pin. Nothing else is downloaded. The module
# is rebuilt only when a source is newer than it: builds are not
# byte-for-byte reproducible, and an unchanged module keeps its sha256 (and
# its entry in Palisade's compiled-module cache).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/guest-py"
venv="$out/venv"
wasm="$out/mention-density.wasm"
pin="$(grep -E '^componentize-py==' "$here/requirements.txt")"
python="${PYTHON:-python3}"

command -v "$python" >/dev/null || {
    echo "build.sh: $python is not installed; the Python module needs Python 3 with its venv module" >&2
    exit 1
}

mkdir -p "$out"
# One build at a time (test processes may start it together).
if command -v flock >/dev/null; then
    exec 9>"$out/.build.lock"
    flock 9
fi

if [ "$("$venv/bin/componentize-py" --version 2>/dev/null)" != "componentize-py ${pin#componentize-py==}" ]; then
    rm -rf "$venv" "$wasm"
    "$python" -m venv "$venv" || {
        echo "build.sh: '$python -m venv' failed; install Python's venv module (Debian: python3-venv)" >&2
        exit 1
    }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --only-binary=:all: --no-deps -r "$here/requirements.txt" || {
        echo "build.sh: installing $pin from PyPI failed" >&2
        exit 1
    }
fi

cd "$here"
if [ -f "$wasm" ] && [ -z "$(find -L . -newer "$wasm" -type f \( -name '*.py' -o -name '*.wit' \
    -o -name requirements.txt -o -name build.sh \) -not -path '*/__pycache__/*' | head -n 1)" ]; then
    echo "$wasm"
    exit 0
fi
# Build beside the output and rename: a reader never sees half a module.
"$venv/bin/componentize-py" -d wit -w module componentize mention_density \
    -o "$wasm.part" >&2
mv "$wasm.part" "$wasm"
echo "$wasm"
