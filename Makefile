# convnotes: `make test` and `make book` set up their own virtual environment (.venv) on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# How torch is installed: pip arguments. On the project's CI machines a CPU build of torch
# 2.13.0 lies on disk: pin it there so pip does not fetch a multi-GB CUDA build. Everywhere
# else take any torch >= 2.2, or choose, e.g.
#   make test TORCH_INSTALL="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_INSTALL ?= $(if $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl),torch==2.13.0,"torch>=2.2")
STAMP  := $(VENV)/.installed
PYTEST_WORKERS ?= 2
# Notebooks and test modules go to the workers whole (loadscope), in the order
# tests/conftest.py gives them (longest first); xdist would otherwise sort them by test count.
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder
# The browser test of the rendered book needs Chromium. `make test` installs Debian's package
# when it can (root and apt-get); elsewhere the browser test is skipped and says why.
CHROMIUM ?= /usr/bin/chromium

# `make test-oldest`: the same tests at the oldest versions pyproject.toml admits
# (constraints/oldest.txt), in their own environment, on the oldest Python the package supports.
PYTHON_OLDEST ?= python3.10
VENV_OLDEST   ?= .venv-oldest

.PHONY: help test test-oldest book lint bench notebooks browser clean

help:
	@echo "make test       run the unit tests and every notebook under nbval (pytest --nbval)"
	@echo "make book       build the HTML book into _build/html"
	@echo "make lint       ruff over the library, tests, benchmarks and notebooks; mypy over convnotes"
	@echo "make bench      run the benchmarks side by side with their twins"
	@echo "make test-oldest  the tests at the oldest supported versions (constraints/oldest.txt)"
	@echo "make notebooks  write every book/NN_*.ipynb from its text twin book/text/NN_*.md, executed"
	@echo "                (one chapter: make notebooks NOTEBOOKS=book/text/03_transposed.md)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_INSTALL)
	$(BIN)/python -m pip install --quiet -e ".[test,book,dev]"
	touch $(STAMP)

browser:
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "browser test: using $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser test: installing Debian's chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
			>/dev/null || echo "browser test: could not install chromium; it will be skipped"; \
	else \
		echo "browser test: no $(CHROMIUM) and no way to install it; it will be skipped"; \
	fi

test: $(STAMP) browser
	$(BIN)/python -m pytest --nbval $(PYTEST_XDIST)

test-oldest:
	$(PYTHON_OLDEST) -m venv $(VENV_OLDEST)
	$(VENV_OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_OLDEST)/bin/python -m pip install --quiet -c constraints/oldest.txt -e ".[test]"
	$(VENV_OLDEST)/bin/python -m pip list --format=freeze | grep -iE "^(numpy|scipy|torch|matplotlib|ipython|scikit-image|scikit-learn)=="
	$(VENV_OLDEST)/bin/python -m pytest --nbval $(PYTEST_XDIST) -rs

book: $(STAMP)
	$(BIN)/jupyter-book build . --all --warningiserror --nitpick --keep-going
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check convnotes tests benchmarks tools book
	$(BIN)/mypy convnotes

bench: $(STAMP)
	$(BIN)/python -m benchmarks

notebooks: $(STAMP)
	$(BIN)/python tools/execute_notebooks.py $(NOTEBOOKS)

clean:
	rm -rf _build .pytest_cache .hypothesis book/_generated $(VENV_OLDEST)
