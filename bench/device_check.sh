#!/usr/bin/env bash
# The GPU machine's checks in one call of the device tool (a lease is minutes, so every part runs under its
# own time limit and a part that fails or hangs does not take the rest with it). Run from the repository root
# with the packed packages carried (`../shared/tools/device-pack.sh`, then carry `.device`; and `.gl`, Debian's
# libegl1 and libglvnd0 with their kin, which envpool's MuJoCo engine links against: see the device tool's README):
#     bash bench/device_check.sh "$OUT"            (PARTS="pytest-gpu profile-ops" runs only those parts)
# Writes into the folder given: log.txt (everything printed), and results.tgz with the pytest report, the
# op profile, the env, replay and training benches' records; the records' meta names the GPU and the CPU.
set -uo pipefail
out=${1:?the folder to write into}
mkdir -p "$out/r"
. .device/env.sh
if [ -d .gl ]; then for deb in .gl/*.deb; do dpkg -x "$deb" /; done; ldconfig; fi
exec > >(tee -a "$out/log.txt") 2>&1

pack() { tar czf "$out/results.tgz" -C "$out" r; }
part() {  # part NAME SECONDS COMMAND...: runs COMMAND under its own limit, says how it ended and how long it took
  local name=$1 limit=$2; shift 2
  if [ -n "${PARTS:-}" ] && [[ " $PARTS " != *" $name "* ]]; then return; fi
  local start=$SECONDS
  echo "=== $name (limit ${limit}s): $*"
  timeout --signal=INT --kill-after=10 "$limit" "$@"
  local rc=$?
  echo "=== $name: exit $rc after $((SECONDS - start))s"
  echo "$name $rc $((SECONDS - start))" >> "$out/r/parts.txt"
  pack
}

part machine 20 bash -c 'nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv;
  python3 -c "import sys, torch, triton, numba; import cupy; print(sys.version.split()[0], torch.__version__, torch.version.cuda,
  triton.__version__, numba.__version__, cupy.__version__, torch.cuda.get_device_name())"; lscpu | grep -E "Model name|^CPU\(s\)"'

# correctness first: every gpu-marked test (Triton and CUDA C kernels against their torch references on fresh
# random inputs, device replay, native envs and the whole loop on the device)
part pytest-gpu 70 python3 -m pytest -m gpu -q -n 8 -p no:cacheprovider -o addopts="" -ra \
  --junitxml="$out/r/pytest-gpu.xml" --ignore=tests/viz/test_video.py tests  # (imageio-ffmpeg is too large to carry)
part profile-ops 75 python3 -m fastrl.cli profile ops --device cuda --no-compile --repeats 50 --warmup 5 --json "$out/r/ops.json"
part envs-native 45 python3 -m fastrl.cli bench envs --env Catch-v0,CartPole-v1,MinAtar/Breakout-v1 --backend native \
  --device cuda --num-envs 4096,65536 --seconds 0.2 --windows 2 --json "$out/r/envs-native.json"
part train-ppo-minatar 45 python3 -m fastrl.cli bench train --preset ppo-minatar --device cuda --seconds 5 \
  --json "$out/r/train-ppo-minatar.json"
part train-dqn-minatar 35 python3 -m fastrl.cli bench train --preset dqn-minatar --device cuda --seconds 5 \
  --json "$out/r/train-dqn-minatar.json"
part replay 45 python3 -m fastrl.cli bench replay --device cuda --cases vec17-100k atari-100k --windows 1 --repeats 50 \
  --peers --json "$out/r/replay.json"
part train-ppo-atari 90 python3 -m fastrl.cli bench train --preset ppo-atari-fast --device cuda --seconds 5 \
  --json "$out/r/train-ppo-atari-fast.json"
cat "$out/r/parts.txt"
