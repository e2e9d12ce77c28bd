#!/usr/bin/env bash
# Usage: tools/dist_train_imagenet.sh CONFIG GPUS [train_imagenet.py args...]
# One node; for several nodes call torchrun with --nnodes/--rdzv_endpoint yourself (see --help).
set -euo pipefail
CONFIG=$1
GPUS=$2
shift 2
PORT=${PORT:-29500}
exec python -m torch.distributed.run --nproc_per_node "$GPUS" --master_port "$PORT" \
    "$(dirname "$0")/train_imagenet.py" --config "$CONFIG" "$@"
