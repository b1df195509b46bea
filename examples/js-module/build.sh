#!/usr/bin/env bash
# Build the new-actor-media module into target/guest-js/new-actor-media.wasm.
#
# componentize-qjs (pinned in package.json and package-lock.json) is
# installed from npm with `npm ci` into node_modules/ beside this script
# the first time, and again whenever package-lock.json changes. Nothing
# else is downloaded. The module is rebuilt only when a source is newer than
# it: an unchanged module keeps its sha256 (and its entry in Palisade's
# compiled-module cache).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/guest-js"
wasm="$out/new-actor-media.wasm"

for tool in node npm; do
    command -v "$tool" >/dev/null || {
        echo "build.sh: $tool is not installed; the JavaScript module needs Node.js 18 or later with npm" >&2
        exit 1
    }
done

mkdir -p "$out"
# One build at a time (test processes may start it together).
if command -v flock >/dev/null; then
    exec 9>"$out/.build.lock"
    flock 9
fi

cd "$here"
# `npm ci` installs exactly the lock; the stamp records which lock it was.
stamp=node_modules/.palisade-lock.sha256
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -x node_modules/.bin/componentize-qjs ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
    rm -f "$wasm"
    npm ci --no-audit --no-fund --loglevel=error >&2 || {
        echo "build.sh: 'npm ci' failed to install componentize-qjs from npm" >&2
        exit 1
    }
    echo "$lock_sum" >"$stamp"
fi

if [ -f "$wasm" ] && [ -z "$(find -L . -path ./node_modules -prune -o -newer "$wasm" -type f \( \
    -name '*.js' -o -name '*.wit' -o -name package-lock.json -o -name build.sh \) -print | head -n 1)" ]; then
    echo "$wasm"
    exit 0
fi
# Build beside the output and rename: a reader never sees half a module.
node_modules/.bin/componentize-qjs --sync --wit wit --world module \
    --js new-actor-media.js -o "$wasm.part" >/dev/null
mv "$wasm.part" "$wasm"
echo "$wasm"
