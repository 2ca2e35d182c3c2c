"""`vectorizer`: a small command line for humans.

- `vectorizer embed TEXT...`: call a running server, print each vector's
  dimension and first values (or its item error).
- `vectorizer embed --input FILE --output FILE`: embed a whole file (JSONL,
  CSV, plain lines or Parquet) into JSONL, NPY or Parquet, resumably; the
  work is done by `vectorizer.bulk`. `--input DIR` embeds every image file
  in a folder (recursively) with a multimodal model.
- `vectorizer validate CONFIG.json`: check a collection's moduleConfig JSON
  (bare, under "text2vec-aws", or a whole Weaviate class definition with its
  properties) locally (no server, no AWS call) and print every problem.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from vectorizer.bulk_io import INPUT_FORMATS, OUTPUT_FORMATS
from vectorizer.text import PropertySettings, TextSettings, check_vectorizable
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc


def _metadata(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """The bearer token of --token-file, for a server started with --auth-token-file."""
    if not args.token_file:
        return ()
    with open(args.token_file, encoding="utf-8") as fh:
        token = next((line.strip() for line in fh if line.strip()), "")
    return (("authorization", f"Bearer {token}"),) if token else ()


def _target_config(args: argparse.Namespace) -> dict[str, Any] | None:
    """The moduleConfig to embed with (None: the named --collection)."""
    if args.collection:
        return None
    if args.config:
        with open(args.config, encoding="utf-8") as fh:
            module, _, _ = class_parts(json.load(fh))
        if not isinstance(module, dict):
            raise ValueError(f"{args.config}: expected a JSON object")
        return module
    config: dict[str, Any] = {"service": args.service, "region": args.region}
    if args.model:
        config["model"] = args.model
    if args.endpoint:
        config["endpoint"] = args.endpoint
    if args.dimensions:
        config["dimensions"] = args.dimensions
    return config


def _embed_file(args: argparse.Namespace) -> int:
    from vectorizer.bulk import EXIT_ERROR, BulkOptions, run_bulk

    try:
        config = _target_config(args)
        metadata = _metadata(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    options = BulkOptions(
        input=Path(args.input),
        output=Path(args.output),
        collection=args.collection,
        config=config,
        address=args.address,
        input_format=args.input_format,
        output_format=args.output_format,
        text_field=args.text_field,
        id_field=args.id_field,
        purpose=args.purpose,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        timeout=args.timeout,
        restart=args.restart,
        overwrite=args.overwrite,
        progress=not args.no_progress,
        metadata=metadata,
    )
    return run_bulk(options)


def _embed(args: argparse.Namespace) -> int:
    if args.input:
        return _embed_file(args)
    request = pb.VectorizeRequest(
        texts=args.texts,
        purpose=pb.PURPOSE_QUERY if args.purpose == "query" else pb.PURPOSE_DOCUMENT,
    )
    if args.collection:
        request.collection = args.collection
    else:
        cfg = request.config
        cfg.service, cfg.region = args.service, args.region
        cfg.model, cfg.endpoint = args.model or "", args.endpoint or ""
        if args.dimensions:
            cfg.dimensions = args.dimensions
    try:
        metadata = _metadata(args)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with grpc.insecure_channel(args.address) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        try:
            response = stub.Vectorize(request, timeout=args.timeout, metadata=metadata)
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
    print(
        f"model: {response.model}  dimensions: {response.dimensions}  "
        f"input tokens: {response.usage.input_tokens}"
    )
    for text, result in zip(args.texts, response.results, strict=False):
        label = text if len(text) <= 40 else text[:37] + "..."
        if result.HasField("vector"):
            values = result.vector.values
            head = ", ".join(f"{v:.4f}" for v in values[:5])
            norm = math.sqrt(sum(v * v for v in values))
            nonzero = sum(1 for v in values if v)
            print(
                f"{label!r}: dim={len(values)} [{head}, ...] "
                f"(norm {norm:.4f}, {nonzero} non-zero components)"
            )
        else:
            e = result.error
            print(f"{label!r}: error {e.code} (retryable={e.retryable}): {e.message}")
    return 0


MODULE = "text2vec-aws"


def class_parts(data: Any) -> tuple[Any, str, dict[str, PropertySettings] | None]:
    """A file's moduleConfig, class name and property settings.

    Accepts a bare moduleConfig, `{"text2vec-aws": {...}}`, or a whole
    Weaviate class definition (`class`, `moduleConfig`, `properties`), whose
    properties are then checked for one vectorizable text property too.
    """
    if not isinstance(data, dict):
        return data, "", None
    if "class" in data or "properties" in data:
        module = (data.get("moduleConfig") or {}).get(MODULE, {})
        props: dict[str, PropertySettings] = {}
        for prop in data.get("properties") or []:
            mc = (prop.get("moduleConfig") or {}).get(MODULE, {})
            indexed = prop.get("indexSearchable", prop.get("indexInverted"))
            props[prop.get("name", "")] = PropertySettings(
                skip=bool(mc.get("skip", False)),
                vectorize_property_name=bool(mc.get("vectorizePropertyName", False)),
                data_type=(prop.get("dataType") or [""])[0],
                indexed=None if indexed is None else bool(indexed),
            )
        return module, str(data.get("class", "")), props
    if set(data) == {MODULE}:
        return data[MODULE], "", None
    return data, "", None


def _validate(args: argparse.Namespace) -> int:
    from vectorizer.service import validate_config_locally

    try:
        with open(args.config, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        print(f"{args.config}: cannot read JSON: {exc}", file=sys.stderr)
        return 2
    module, class_name, props = class_parts(data)
    errors = validate_config_locally(module)
    if props is not None and isinstance(module, dict):
        settings = TextSettings(
            class_name=class_name,
            vectorize_class_name=bool(module.get("vectorizeClassName", False)),
            properties=tuple(module.get("properties") or ()),
            property_settings=props,
        )
        errors.extend(check_vectorizable(settings))
    if errors:
        for e in errors:
            print(f"{args.config}: {e}")
        return 1
    print(f"{args.config}: valid")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vectorizer", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser(
        "embed",
        help="embed texts, or a whole file (--input/--output), through a running server",
    )
    e.add_argument("texts", nargs="*", help="texts to embed (or use --input)")
    e.add_argument("--address", default="localhost:50051", help="server gRPC address")
    e.add_argument("--collection", default="", help="a collection loaded by the server")
    e.add_argument("--config", help="a moduleConfig JSON file to embed with (bulk)")
    e.add_argument("--service", default="bedrock", choices=["bedrock", "sagemaker"])
    e.add_argument("--region", default="us-east-1")
    e.add_argument("--model", help="Bedrock model id, profile id or ARN")
    e.add_argument("--endpoint", help="SageMaker endpoint name or URL")
    e.add_argument("--dimensions", type=int, default=0)
    e.add_argument("--purpose", choices=["document", "query"], default="document")
    e.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    e.add_argument("--token-file", help="file holding the server's bearer token")
    bulk = e.add_argument_group("bulk (--input FILE --output FILE)")
    bulk.add_argument(
        "--input",
        help="JSONL, CSV, plain-lines (.txt) or Parquet file; or a folder of images "
        "(every file under it, ids = relative paths; needs a multimodal model)",
    )
    bulk.add_argument("--output", help="JSONL, NPY or Parquet file to write")
    bulk.add_argument("--input-format", default="", choices=["", *INPUT_FORMATS])
    bulk.add_argument("--output-format", default="", choices=["", *OUTPUT_FORMATS])
    bulk.add_argument(
        "--text-field",
        "--column",
        default="text",
        help="field (JSONL, Parquet) or column (CSV) holding the text (default: text)",
    )
    bulk.add_argument(
        "--id-field", default="id", help="field or column of the item id (default: id)"
    )
    bulk.add_argument("--batch-size", type=int, default=64, help="texts (images) per request")
    bulk.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    bulk.add_argument("--restart", action="store_true", help="discard a previous run's progress")
    bulk.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    bulk.add_argument("--no-progress", action="store_true", help="no progress bar")
    e.set_defaults(func=_embed)
    v = sub.add_parser("validate", help="check a moduleConfig JSON file")
    v.add_argument("config")
    v.set_defaults(func=_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "embed":
        has_target = args.collection or args.model or args.endpoint or args.config
        if not has_target:
            parser.error("embed needs --collection, --config, --model or --endpoint")
        if args.input and args.texts:
            parser.error("embed takes texts or --input, not both")
        if not args.input and not args.texts:
            parser.error("embed needs texts to embed, or --input FILE --output FILE")
        if bool(args.input) != bool(args.output):
            parser.error("--input and --output go together")
        if args.config and not args.input:
            parser.error("--config is for bulk work (--input); name the model with --model")
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
