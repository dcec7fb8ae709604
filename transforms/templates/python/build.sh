#!/usr/bin/env bash
# Builds the component: ./build.sh [OUTPUT.wasm]  (default: <project dir name>.wasm here).
# Uses componentize-py from PATH, else installs it into .venv here (once).
set -euo pipefail

COMPONENTIZE_PY_VERSION=0.25.1
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$dir/$(basename "$dir").wasm}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

cpy="$(command -v componentize-py || true)"
if [[ -z "$cpy" ]]; then
  cpy="$dir/.venv/bin/componentize-py"
  if [[ "$("$cpy" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY_VERSION" ]]; then
    echo "installing componentize-py $COMPONENTIZE_PY_VERSION into $dir/.venv (once)" >&2
    python3 -m venv "$dir/.venv"
    "$dir/.venv/bin/pip" install --disable-pip-version-check -q "componentize-py==$COMPONENTIZE_PY_VERSION"
  fi
fi

mkdir -p "$(dirname "$out")"
# The app module is app.py; its imports are resolved now, at build time.
(cd "$dir" && "$cpy" -q -d wit -w transform componentize -p . app -o "$out.tmp")
# Rename into place: a running Sluice never reads half a file.
mv -f "$out.tmp" "$out"
echo "$out ($(wc -c <"$out") bytes)"
