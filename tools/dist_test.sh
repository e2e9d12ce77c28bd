#!/usr/bin/env bash
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py args...]   (torch.distributed.run)
# Several nodes: NNODES, NODE_RANK, MASTER_ADDR and PORT as for dist_train.sh; the interpreter as there.
# On a CPU-only machine GPUS is the number of processes (gloo).
set -euo pipefail
source "$(dirname "$0")/dist_common.sh"
dist_args "tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py args...]" 3 "$@"
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
dist_file config "$CONFIG"
dist_file checkpoint "$CHECKPOINT"
dist_count "$GPUS"
PYTHON=$(dist_python)
PORT=${PORT:-29500}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
exec "$PYTHON" -m torch.distributed.run --nnodes "$NNODES" --node_rank "$NODE_RANK" --master_addr "$MASTER_ADDR" \
    --nproc_per_node "$GPUS" --master_port "$PORT" "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "$@"
