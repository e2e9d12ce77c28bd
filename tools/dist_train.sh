#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS [tools/train.py args...]   (one node, torch.distributed.run)
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR and PORT. The interpreter: PYTHON, else the active virtual
# environment's, else python on PATH. On a CPU-only machine GPUS is the number of processes (gloo).
set -euo pipefail
source "$(dirname "$0")/dist_common.sh"
dist_args "tools/dist_train.sh CONFIG GPUS [tools/train.py args...]" 2 "$@"
CONFIG=$1
GPUS=$2
shift 2
dist_file config "$CONFIG"
dist_count "$GPUS"
PYTHON=$(dist_python)
PORT=${PORT:-29500}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
exec "$PYTHON" -m torch.distributed.run --nnodes "$NNODES" --node_rank "$NODE_RANK" --master_addr "$MASTER_ADDR" \
    --nproc_per_node "$GPUS" --master_port "$PORT" "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
