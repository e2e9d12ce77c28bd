# `make test` and `make demo` create the project's virtual environment on first use, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.relnas-installed

MM_STAMP := $(VENV)/.relnas-mm-installed
# A wheelhouse directory holding a prebuilt mmcv 2.1.0 wheel for this torch/Python, if you have one
# (make test WHEELHOUSE=dir; ../shared/wheels is used when it exists); without it, mmcv is built from source
# once (about 18 minutes on 2 cores) and the wheel is cached in .cache/wheels for the next environment.
WHEELHOUSE ?= $(wildcard ../shared/wheels)

.PHONY: venv mm test test-fast demo bench clean

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changes; pip skips what is already satisfied.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev,demo]"
	touch $@

# The OpenMMLab stack (mmengine, mmcv with ops, mmdet, mmseg, mmpose) for the transfer part: tools/install_mm.sh.
mm: $(MM_STAMP)

$(MM_STAMP): tools/install_mm.sh | $(STAMP)
	WHEELHOUSE="$(WHEELHOUSE)" tools/install_mm.sh $(PY)
	touch $@

# includes timm's own tests/test_models.py for our models (tests/test_timm_upstream.py; its source
# distribution is fetched once into .cache/timm-src)
test: $(STAMP) $(MM_STAMP)
	$(PY) -m pytest -q tests

# The edit loop: everything but the OpenMMLab tests and the slow ones (kill/resume runs, torchrun, sweeps
# over whole benchmark spaces); needs no OpenMMLab stack. `make test` stays the whole suite.
test-fast: $(STAMP)
	$(PY) -m pytest -q tests -m "not mm and not slow"

# The zoo table, then a short real search on scikit-learn's digits and a report of the model it found.
DEMO_RUN ?= runs/demo
demo: $(STAMP)
	$(VENV)/bin/relnas-zoo demo --plot relativenas_cells.png
	rm -rf $(DEMO_RUN)
	$(VENV)/bin/relnas-zoo search --config configs/search/demo.yaml --out $(DEMO_RUN)
	$(VENV)/bin/relnas-zoo info relativenas_cifar10 --genotype $(DEMO_RUN)/genotype.json
	@echo "search outputs in $(DEMO_RUN)/: genotype.json, population.json, evaluations.jsonl, generations.jsonl, losses.png, diversity.png, cells.png"
	$(VENV)/bin/relnas-zoo search-summary $(DEMO_RUN)

bench: $(STAMP)
	$(PY) bench/inference_latency.py
	$(PY) bench/search_pair.py
	$(PY) bench/lmdb_vs_folder.py
	$(PY) bench/train_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
