# `make test` and `make demo` create the project's virtual environment on first use, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.relnas-installed

.PHONY: venv test demo bench clean

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changes; pip skips what is already satisfied.
$(STAMP): setup.py | $(PY)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev,demo]"
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q tests

# The zoo table, then a short real search on scikit-learn's digits and a report of the model it found.
DEMO_RUN ?= runs/demo
demo: $(STAMP)
	$(PY) -m relnas_zoo demo --plot relativenas_cells.png
	rm -rf $(DEMO_RUN)
	$(PY) search/run.py --config configs/search/demo.yaml --out $(DEMO_RUN)
	$(PY) -m relnas_zoo info relativenas_cifar10 --genotype $(DEMO_RUN)/genotype.json
	@echo "search outputs in $(DEMO_RUN)/: genotype.json, population.json, evaluations.jsonl, losses.png, cells.png"

bench: $(STAMP)
	$(PY) bench/inference_latency.py
	$(PY) bench/search_pair.py
	$(PY) bench/lmdb_vs_folder.py
	$(PY) bench/train_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
