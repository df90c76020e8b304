# dr2net-mm: set-up, demo and tests. `make test` and `make demo` install into .venv when needed.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
REQS   := $(wildcard requirements/*.txt) pyproject.toml

.PHONY: install lint test test-all demo demo-quick study study-quick data clean-venv help

help:
	@echo "make install   create .venv and install the pinned OpenMMLab stack (mmcv built from source unless cached)"
	@echo "make demo      install if needed, generate demo data, pretrain, finetune and evaluate every task"
	@echo "make demo-quick  the same path on tiny data in a few minutes (work_dirs/demo-quick/)"
	@echo "make study     the seeded study (detection, segmentation, recognition, classification; every method and seed; resumable; writes docs/study.md)"
	@echo "make study-quick  the study's path on the quick demo's data, two seeds, four methods (CI)"
	@echo "make lint      ruff (style, pyflakes, bugbear, import order) over the whole repository"
	@echo "make test      run the default test suite (what CI runs)"
	@echo "make test-all  also run the tests marked slow"

install: $(STAMP)

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -r requirements/build.txt -r requirements/torch.txt
	MMCV_WITH_OPS=1 $(PIP) install --no-build-isolation -r requirements/mmcv.txt
	$(PIP) install -r requirements/runtime.txt -r requirements/tests.txt
	$(PIP) install --no-deps -r requirements/mmaction.txt -r requirements/mmpretrain.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	$(PY) -c "import dr2net_mm, mmcv.ops, mmdet.models, mmseg.models, mmaction.models, mmpretrain.models; print('OpenMMLab stack OK')"
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	$(PY) -m pytest -q tests

test-all: $(STAMP)
	$(PY) -m pytest -q -m "slow or not slow" tests

demo: $(STAMP)
	$(PY) tools/demo.py

demo-quick: $(STAMP)
	$(PY) tools/demo.py --quick

study: $(STAMP)
	$(PY) tools/study.py

study-quick: $(STAMP)
	$(PY) tools/study.py --quick --jobs 2

data: $(STAMP)
	$(PY) tools/data/make_demo_data.py

clean-venv:
	rm -rf $(VENV)
