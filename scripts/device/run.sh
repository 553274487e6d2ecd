#!/usr/bin/env bash
# On a lent GPU machine (the device tool), after scripts/device/pack.sh here:
#   run(command: "bash scripts/device/run.sh", carry: [".device", ".gl"], timeout_s: 600)
# Arguments go to bench/gpu.ts (default: synthetic SVD-XT, q4f16, 576×1024, 14 and 25 frames, 3 steps).
# Writes $OUT/gpu.md (the README's table) and $OUT/gpu.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
bin=/tmp/svd-web-device
mkdir -p "$bin"
xz -dc .device/node.xz > "$bin/node"
chmod +x "$bin/node"
for lib in .device/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/*.xz; do xz -dc "$lib" > "${lib%.xz}"; done
GPU_NAME="$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo unknown)"
export GPU_NAME
out="${OUT:-/tmp}"
set -o pipefail
"$bin/node" .device/gpu.mjs --work /tmp/svd-web-gpu "$@" 2>&1 | tee "$out/gpu.log"
cp bench/results/gpu.md "$out/gpu.md"
