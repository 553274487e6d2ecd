#!/usr/bin/env bash
# Packs what bench/gpu.ts needs on a lent GPU machine into .device/ and .gl/ (both git-ignored; they travel with
# the device tool's `carry`). That machine has no Node.js and reaches no registry, so everything comes from here:
#   - node itself (xz), the bench and the pipeline bundled into one file (esbuild; onnxruntime-node stays external),
#   - onnxruntime-node's JS and its linux-x64 binary (the .so xz'd), onnxruntime-common,
#   - the Vulkan/EGL loader .debs (the device README's recipe).
# Run it here, then on the device: scripts/device/run.sh (see its header for the exact `run` call).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.device
rm -rf "$out"
mkdir -p "$out/node_modules"

echo "[pack] node $(node --version)"
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"

echo "[pack] bundling bench/gpu.ts"
node_modules/.bin/esbuild bench/gpu.ts --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --external:onnxruntime-node --outfile="$out/gpu.mjs" \
  --banner:js="import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"

echo "[pack] onnxruntime-node (linux x64 only)"
ort=node_modules/onnxruntime-node
dst="$out/node_modules/onnxruntime-node"
mkdir -p "$dst/bin/napi-v6/linux/x64"
cp -r "$ort/package.json" "$ort/dist" "$dst/"
cp "$ort/bin/napi-v6/linux/x64/onnxruntime_binding.node" "$dst/bin/napi-v6/linux/x64/"
for lib in "$ort"/bin/napi-v6/linux/x64/*.so*; do xz -T0 -6 -c "$lib" > "$dst/bin/napi-v6/linux/x64/$(basename "$lib").xz"; done
cp -r node_modules/onnxruntime-common "$out/node_modules/"

if [[ ! -d .gl ]] || ! ls .gl/*.deb >/dev/null 2>&1; then
  echo "[pack] Vulkan/EGL loader packages into .gl/"
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null
  # shellcheck disable=SC2086
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
fi
du -sh "$out" .gl
