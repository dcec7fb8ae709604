# Shared by build-example and check-template (sourced, not run).
# componentize-js lives once per machine in $CJS_CACHE, at the version that
# transforms/templates/js/package.json pins.

JS_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
JS_TEMPLATE="$JS_REPO/transforms/templates/js"
CJS_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/sluice/componentize-js"

# The pinned version, from the template's package.json.
cjs_version() {
  node -p 'require(process.argv[1]).devDependencies["@bytecodealliance/componentize-js"]' "$JS_TEMPLATE/package.json"
}

# Installs componentize-js into $CJS_CACHE unless the pinned version is there.
ensure_cjs() {
  local want have
  want="$(cjs_version)"
  have="$(node -p 'require(process.argv[1]).version' "$CJS_CACHE/node_modules/@bytecodealliance/componentize-js/package.json" 2>/dev/null || true)"
  if [[ "$have" != "$want" ]]; then
    echo "installing componentize-js $want into $CJS_CACHE (once)" >&2
    mkdir -p "$CJS_CACHE"
    npm install --prefix "$CJS_CACHE" --no-audit --no-fund --save-exact "@bytecodealliance/componentize-js@$want" >&2
  fi
}

# Lays out a project in $1 as `sluice new` does: the template's files, the
# library in sluice-transform/, the contract in wit/transform.wit.
stage_project() {
  local dir="$1"
  mkdir -p "$dir/wit"
  (cd "$JS_TEMPLATE" && tar --exclude=./node_modules --exclude='*.wasm' -cf - .) | (cd "$dir" && tar -xf -)
  cp -R "$JS_REPO/transforms/js/sluice-transform" "$dir/sluice-transform"
  cp "$JS_REPO/transforms/wit/transform.wit" "$dir/wit/transform.wit"
}
