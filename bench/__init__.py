"""`make bench`: the sidecar against its peers, side by side, on the local emulator.

The parts:

- `__main__`: the orchestrator. Runs every workload in one sitting (issue 13's
  scenarios, then the issue-6 phases) and writes `bench/RESULTS.md` (`report`,
  `report_scenarios`, `markdown`).
- `scenarios`: issue 13's scenarios (a) to (f) and the physical limit of a
  quota; `sidebyside` runs each with the sidecar and two boto3 pools on one
  emulator; `overhead` is (g), paired calls direct and through the sidecar.
- `stats`: percentiles and per-process CPU time read from /proc.
- `workload`: the texts (distinct, deterministic), the model families, and
  the check of every vector against the emulator's `deterministic_vector`.
- `sidecar`: gRPC callers of the sidecar (import, single-text queries).
- `signed`: raw SigV4-signed calls to the emulator (aiohttp or httpx), the
  baseline a query's overhead is measured against.
- `importer`: a background import in its own process, so that it loads the
  sidecar without sharing the measuring process's event loop.
- `peers`: worker run in the bench-only venv (`bench/.venv-peers`): plain
  boto3, boto3 with 16 threads (botocore's default, `standard` or `adaptive`
  retry mode), LiteLLM `aembedding`, langchain-aws.
- `httpclients`: worker run in the bench venv: aiohttp against httpx.
- `emulator_cost`: the emulator's own CPU per answer and its answers' sizes
  (a few seconds, in-process).

Workers print one JSON line on stdout; the orchestrator reads it.
"""
