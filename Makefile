# The README's commands. `make run` and `make test` each do all set-up on a
# fresh machine: create .venv, install the project, then act.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test proto lint bench bench-scale soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,vectordb]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m vectorizer.devrun

test: $(STAMP)
	bash scripts/test-deps.sh
	$(BIN)/python -m pytest -q

proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. --grpc_python_out=. proto/vectorizer/v1/vectorizer.proto
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. proto/vectorizer/v1/internal.proto
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=. --pyi_out=. --grpc_python_out=. proto/vectorizer/v1/media_jobs.proto

lint: $(STAMP)
	$(BIN)/ruff check vectorizer tests bench
	$(BIN)/mypy vectorizer

bench: $(STAMP)
	bash bench/run.sh

# Replicas, workers and Redis against one untold quota -> bench/SCALE.md.
bench-scale: $(STAMP)
	bash scripts/test-deps.sh
	$(BIN)/python -m bench.scale

soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache
