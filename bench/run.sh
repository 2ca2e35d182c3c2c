#!/usr/bin/env bash
# `make bench`: the sidecar against its peers on the local emulator -> bench/RESULTS.md.
#
#   bash bench/run.sh            full run (under ~15 minutes on 2 cores)
#   bash bench/run.sh --quick    1/20 of the sizes: a smoke run, written to bench/RESULTS.quick.md
#   bash bench/run.sh --scenarios ag --no-legacy   some of issue 13's scenarios only,
#                                written to bench/RESULTS.partial.md
#   bash bench/run.sh --scenarios c --no-legacy --clients sidecar   one scenario, sidecar only
#
# Unattended: every phase's figures, the command and the source commit go
# into the results file; a scenario that fails is recorded there with why.
# Issue 13's scenario (a) replaces the former `python -m bench.quota` (bench/QUOTA.md):
# the same measurement with a bucket that starts empty, beside two boto3 pools.
#
# The product runs from .venv (made by `make`); the peers (boto3, LiteLLM,
# langchain-aws) and httpx live in a bench-only venv, bench/.venv-peers,
# created here from bench/requirements-peers.txt and never installed into
# the product's environment.
set -euo pipefail
cd "$(dirname "$0")/.."

PRODUCT_PY=.venv/bin/python
PEERS=bench/.venv-peers
REQS=bench/requirements-peers.txt

if [ ! -x "$PRODUCT_PY" ]; then
  echo "bench: $PRODUCT_PY missing; run 'make bench' (it creates .venv first)" >&2
  exit 2
fi

if [ ! -x "$PEERS/bin/python" ] || ! cmp -s "$REQS" "$PEERS/.requirements"; then
  echo "bench: creating $PEERS from $REQS" >&2
  rm -rf "$PEERS"
  python3 -m venv "$PEERS"
  "$PEERS/bin/python" -m pip install -q --upgrade pip
  "$PEERS/bin/python" -m pip install -q -r "$REQS"
  cp "$REQS" "$PEERS/.requirements"
fi

args=("$@")
out=bench/RESULTS.md
partial=0
quick=0
for a in "$@"; do
  case "$a" in
    --scenarios|--scenarios=*|--no-legacy|--clients|--clients=*)
      out=bench/RESULTS.partial.md; partial=1 ;;
  esac
done
for a in "$@"; do
  if [ "$a" = "--quick" ]; then out=bench/RESULTS.quick.md; quick=1; fi
done

# A phase that fails is recorded in the results and makes the exit status 1; the
# next step still runs, so an unattended run writes everything it can.
status=0
"$PRODUCT_PY" -m bench --peers-python "$PEERS/bin/python" --out "$out" \
  --command "bash bench/run.sh${args[*]:+ ${args[*]}}" "$@" || status=$?
# Replicas, workers and Redis against one untold quota (bench/SCALE.md, make bench-scale).
if [ "$partial" = 0 ]; then
  "$PRODUCT_PY" -m bench.scale $([ "$quick" = 1 ] && echo --quick) || status=$?
fi
exit "$status"
