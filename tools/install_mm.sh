#!/usr/bin/env bash
# Install the OpenMMLab stack the transfer configs need into a Python environment:
#   mmengine 0.10.7, mmcv 2.1.0 with compiled ops, mmdet 3.3.0, mmsegmentation 1.2.2, mmpose 1.3.2.
# Usage: tools/install_mm.sh [PYTHON]      (default: python3; the Makefile passes .venv/bin/python)
# Environment:
#   WHEELHOUSE=DIR   look for a prebuilt mmcv wheel there first (CI passes ../shared/wheels)
#   MM_CACHE=DIR     where a wheel built from source is kept for the next run (default: .cache/wheels)
# Facts behind each step (torch 2.14, numpy 2, setuptools 81 removed pkg_resources):
#   - PyPI has only mmcv's source, whose setup.py asks for C++17/14 while torch 2.14's headers need C++20:
#     the source is patched to -std=c++20 and built with MMCV_WITH_OPS=1 against the installed torch,
#     without build isolation (about 18 minutes on 2 cores; the wheel is cached afterwards).
#   - mmcv and mmengine import pkg_resources: setuptools stays below 81.
#   - mmpose requires chumpy, which never gets imported and does not build: mmpose goes in last, without
#     dependencies, after its real ones (installing anything after it would make pip print a red
#     "dependency conflicts" error about chumpy that means nothing here).
#   - xtcocotools' PyPI wheel breaks under numpy 2: it is built from source, without build isolation
#     (its setup.py imports numpy and Cython).
set -euo pipefail
PY=${1:-python3}
# an absolute path: the source build runs from another directory (dirname/pwd, not realpath, which would
# resolve a venv's python symlink to the base interpreter)
case "$PY" in
  */*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;;
  *) PY="$(command -v "$PY")" ;;
esac
MMCV_VERSION=2.1.0
CACHE=${MM_CACHE:-.cache/wheels}
mkdir -p "$CACHE" && CACHE="$(cd "$CACHE" && pwd)"
pip_install() { "$PY" -m pip install --quiet "$@"; }

if "$PY" - <<'PY' 2>/dev/null; then
import importlib.metadata as md, mmcv.ops  # noqa: F401  (compiled ops present)
need = {'mmengine': '0.10.7', 'mmcv': '2.1.0', 'mmdet': '3.3.0', 'mmsegmentation': '1.2.2', 'mmpose': '1.3.2'}
raise SystemExit(0 if all(md.version(k) == v for k, v in need.items()) else 1)
PY
  echo "OpenMMLab stack already installed"; exit 0
fi

pip_install "setuptools<81" wheel ninja
pip_install "mmengine==0.10.7"

if ! "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null || [ "$("$PY" -c 'import mmcv; print(mmcv.__version__)')" != "$MMCV_VERSION" ]; then
  tag=$("$PY" -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
  wheel=""
  for dir in ${WHEELHOUSE:-} "$CACHE"; do
    [ -d "$dir" ] || continue
    found=$(ls "$dir"/mmcv-"$MMCV_VERSION"-"$tag"-*.whl 2>/dev/null | head -n1 || true)
    if [ -n "$found" ]; then wheel=$found; break; fi
  done
  if [ -z "$wheel" ]; then
    echo "building mmcv $MMCV_VERSION with compiled ops from source (about 18 minutes on 2 cores)..."
    work=$(mktemp -d)
    # no build isolation even to fetch: preparing the metadata runs setup.py, which needs pkg_resources
    "$PY" -m pip download --quiet --no-deps --no-binary mmcv --no-build-isolation "mmcv==$MMCV_VERSION" -d "$work"
    tar -xzf "$work"/mmcv-"$MMCV_VERSION".tar.gz -C "$work"
    sed -i -e 's/-std=c++17/-std=c++20/g' -e 's/-std=c++14/-std=c++20/g' "$work/mmcv-$MMCV_VERSION/setup.py"
    (cd "$work/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} \
      "$PY" -m pip wheel --no-build-isolation --no-deps -w "$CACHE" .)
    wheel=$(ls "$CACHE"/mmcv-"$MMCV_VERSION"-"$tag"-*.whl | head -n1)
    rm -rf "$work"
  fi
  echo "installing $wheel"
  pip_install --no-deps "$wheel"
  pip_install addict packaging Pillow pyyaml yapf opencv-python
fi

pip_install "mmdet==3.3.0" "mmsegmentation==1.2.2" ftfy regex
pip_install cython numpy   # xtcocotools' setup.py imports both: build it against the installed numpy
pip_install --no-binary xtcocotools --no-build-isolation "xtcocotools>=1.12"
pip_install json_tricks munkres scipy matplotlib
pip_install --no-deps "mmpose==1.3.2"   # last: see the note on chumpy above
"$PY" -c "import mmcv.ops, mmdet, mmseg, mmpose; print('OpenMMLab stack ready: mmcv', mmcv.__version__, \
'mmdet', mmdet.__version__, 'mmseg', mmseg.__version__, 'mmpose', mmpose.__version__)"
