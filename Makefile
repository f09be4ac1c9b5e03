# Two commands do all set-up on a fresh machine:
#   make demo   # create .venv, install the light core, render a clip and caption it on the embedded default
#   make test   # create .venv if needed, install everything ([all,test]), run the test suite
PY := .venv/bin/python

.PHONY: setup setup-all demo test bench clean

setup:
	@bash scripts/setup.sh

setup-all:
	@bash scripts/setup.sh --all

demo: setup
	$(PY) -m agent demo-clip runs/demo/street.mp4 --camera "pan left" --seed 3
	$(PY) -m agent run runs/demo/street.mp4 -o runs/demo/caption.json
	$(PY) -m agent validate runs/demo/caption.json

test: setup-all
	$(PY) -m pytest -q -n auto --dist worksteal

bench: setup-all
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/speed.py

clean:
	rm -rf runs .pytest_cache
