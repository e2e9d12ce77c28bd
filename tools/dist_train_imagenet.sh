#!/usr/bin/env bash
# Usage: tools/dist_train_imagenet.sh CONFIG GPUS [train_imagenet.py args...]
# One node; for several nodes call torchrun with --nnodes/--rdzv_endpoint yourself (see --help).
# The interpreter: PYTHON, else the active virtual environment's, else python on PATH.
set -euo pipefail
source "$(dirname "$0")/dist_common.sh"
dist_args "tools/dist_train_imagenet.sh CONFIG GPUS [train_imagenet.py args...]" 2 "$@"
CONFIG=$1
GPUS=$2
shift 2
dist_count "$GPUS"
PYTHON=$(dist_python)
PORT=${PORT:-29500}
exec "$PYTHON" -m torch.distributed.run --nproc_per_node "$GPUS" --master_port "$PORT" \
    "$(dirname "$0")/train_imagenet.py" --config "$CONFIG" "$@"
