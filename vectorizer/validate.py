"""Every problem of a collection config, found without calling AWS.

- `validate_with(prepare, cfg, class_name, schema)`: generic, backend and
  schema checks, with the backends' `prepare` given.
- `validate_all(app, ...)`: the same with the running server's backends
  (the ValidateConfig RPC).
- `validate_config_locally(data)`: a moduleConfig dict, offline
  (`vectorizer validate`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from vectorizer.app import App
from vectorizer.config import ResolvedConfig, config_errors, parse_config_json, resolve
from vectorizer.errors import ConfigError, VectorizerError
from vectorizer.proto_objects import text_settings
from vectorizer.settings import Settings
from vectorizer.text import check_vectorizable
from vectorizer.v1 import vectorizer_pb2 as pb


def validate_all(
    app: App,
    cfg: pb.CollectionConfig,
    class_name: str = "",
    schema: Sequence[pb.PropertySchema] = (),
) -> list[str]:
    return validate_with(app.engine.prepare, cfg, class_name, schema)


def validate_config_locally(data: Any) -> list[str]:
    """`vectorizer validate`: every problem of a moduleConfig dict, offline."""
    from vectorizer.app import build_backends, build_transport

    try:
        cfg = parse_config_json(data)
    except ConfigError as exc:
        return exc.errors
    settings = Settings()
    backends = build_backends(settings, build_transport(settings, os.environ), os.environ)
    return validate_with(lambda c: backends[c.service].prepare(c), cfg)


def validate_with(
    prepare: Callable[[ResolvedConfig], Any],
    cfg: pb.CollectionConfig,
    class_name: str = "",
    schema: Sequence[pb.PropertySchema] = (),
) -> list[str]:
    """Generic, backend and schema checks of a config; no AWS call."""
    errors = config_errors(cfg)
    if not errors:
        try:
            prepare(resolve(cfg))
        except ConfigError as exc:
            errors.extend(exc.errors)
        except VectorizerError as exc:
            errors.append(exc.message)
    if class_name or schema:
        # Schema checks need the text options only; use them even when other
        # keys are wrong so every problem is reported at once.
        base = ResolvedConfig(
            service="bedrock",
            region="",
            vectorize_class_name=cfg.vectorize_class_name,
            properties=tuple(cfg.properties),
            lowercase=cfg.lowercase if cfg.HasField("lowercase") else True,
        )
        errors.extend(check_vectorizable(text_settings(base, class_name, schema)))
    return errors
