# Sourced by dist_train.sh, dist_test.sh and dist_train_imagenet.sh: argument checks, each failure one line
# and exit status 2, and the Python interpreter to launch.

dist_fail() {
    echo "error: $*" >&2
    exit 2
}

# dist_args USAGE NEEDED "$@": print USAGE for -h/--help (exit 0) or when fewer than NEEDED arguments came
dist_args() {
    local usage=$1 needed=$2
    shift 2
    if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
        echo "usage: $usage"
        exit 0
    fi
    if [ "$#" -lt "$needed" ]; then
        echo "usage: $usage" >&2
        dist_fail "$needed arguments are needed, $# given"
    fi
}

dist_file() {  # dist_file WHAT PATH
    [ -f "$2" ] || dist_fail "$1 $2: no such file"
}

dist_count() {  # dist_count PROCESSES
    [[ "$1" =~ ^[1-9][0-9]*$ ]] || dist_fail "GPUS=$1: give the number of processes per node, a positive integer"
}

# The interpreter: $PYTHON, else the active virtual environment's, else python or python3 on PATH, else the
# checkout's .venv (make test / make demo create it).
dist_python() {
    local here candidate
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if [ -n "${PYTHON:-}" ]; then
        command -v "$PYTHON" >/dev/null 2>&1 || dist_fail "PYTHON=$PYTHON: no such interpreter"
        echo "$PYTHON"
        return
    fi
    for candidate in "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}" python python3 "$here/.venv/bin/python"; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then
            echo "$candidate"
            return
        fi
    done
    dist_fail "no Python interpreter found (no python or python3 on PATH, no .venv): set PYTHON=/path/to/bin/python"
}
