"""`vectorizer`: a small command line for humans.

- `vectorizer embed TEXT...`: call a running server, print each vector's
  dimension and first values (or its item error).
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
from typing import Any

import grpc

from vectorizer.text import PropertySettings, TextSettings, check_vectorizable
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc


def _embed(args: argparse.Namespace) -> int:
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
    with grpc.insecure_channel(args.address) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        try:
            response = stub.Vectorize(request, timeout=args.timeout)
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
    e = sub.add_parser("embed", help="embed texts through a running server")
    e.add_argument("texts", nargs="+")
    e.add_argument("--address", default="localhost:50051", help="server gRPC address")
    e.add_argument("--collection", default="", help="a collection loaded by the server")
    e.add_argument("--service", default="bedrock", choices=["bedrock", "sagemaker"])
    e.add_argument("--region", default="us-east-1")
    e.add_argument("--model", help="Bedrock model id, profile id or ARN")
    e.add_argument("--endpoint", help="SageMaker endpoint name or URL")
    e.add_argument("--dimensions", type=int, default=0)
    e.add_argument("--purpose", choices=["document", "query"], default="document")
    e.add_argument("--timeout", type=float, default=30.0)
    e.set_defaults(func=_embed)
    v = sub.add_parser("validate", help="check a moduleConfig JSON file")
    v.add_argument("config")
    v.set_defaults(func=_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "embed" and not args.collection and not (args.model or args.endpoint):
        build_parser().error("embed needs --collection, --model or --endpoint")
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
