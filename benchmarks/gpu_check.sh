#!/usr/bin/env bash
# GPU checks for a lent device machine (see README "GPU"): the CUDA tests and the CoPur speed
# benchmark on the GPU. Expects wheels of the packages the machine lacks in .whl/ (skorch,
# and scikit-learn when the machine's is older than 1.6); results go to $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
python3 -c "import sklearn, torch, skorch; print('sklearn', sklearn.__version__, 'torch', \
torch.__version__, 'skorch', skorch.__version__, torch.cuda.get_device_name())"
python3 -m pytest -q -p no:cacheprovider -o addopts="" \
    tests/test_copur.py tests/test_rand_eigen.py -k "cuda" 2>&1 | tee "$OUT/gpu_tests.log"
python3 benchmarks/copur_speed.py --device cuda --n-rows 10000 --n-single 100 \
    --results "$OUT/copur_speed_gpu.md" 2>&1 | tail -20
