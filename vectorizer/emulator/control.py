"""The emulator's control API under `/_emulator/` (not AWS; no signing).

| route | does |
|---|---|
| `GET /_emulator/health` | 200 `{"status": "ok"}` |
| `GET /_emulator/requests[?service=bedrock]` | recorded requests, oldest first |
| `DELETE /_emulator/requests` | forget them |
| `GET /_emulator/faults` | current fault knobs |
| `POST /_emulator/faults` | partial update (JSON object); answers the new knobs, 400 if bad |
| `POST /_emulator/reset` | knobs back to the command line's, records, counters, quotas cleared |
| `GET /_emulator/stats` | `{"requests", "throttled", "errors", "faults", "by_service": {..}}` |
| `GET /_emulator/endpoints` / `POST` | SageMaker endpoints; POST adds `{"name": spec}` |
| `GET /_emulator/profiles` / `POST` | modelId or ARN -> family mappings; POST adds |
| `GET /_emulator/async` / `POST` | async invoke `{"delay", "s3", "invocations"}`; POST sets delay |

A fault update keeps the quota buckets' levels (quotas.py), so a quota
changed mid-run takes effect from the current level.

`add_control_routes(app)` wires them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aiohttp import web

from vectorizer.emulator.bedrock import FAMILIES
from vectorizer.emulator.sagemaker import endpoint_from_dict
from vectorizer.emulator.state import STATE_KEY, EmulatorState

PREFIX = "/_emulator"


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def _bad(message: str) -> web.Response:
    return web.json_response({"message": message}, status=400)


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        raise web.HTTPBadRequest(text='{"message": "body is not JSON"}') from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"message": "body must be a JSON object"}')
    return data


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def get_requests(request: web.Request) -> web.Response:
    service = request.query.get("service")
    return web.json_response(_state(request).recorder.records(service))


async def delete_requests(request: web.Request) -> web.Response:
    _state(request).recorder.clear_records()
    return web.json_response({"cleared": True})


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(_state(request).injector.faults.to_dict())


async def post_faults(request: web.Request) -> web.Response:
    injector = _state(request).injector
    try:
        injector.faults = injector.faults.updated(await _json_object(request))
    except ValueError as exc:
        return _bad(str(exc))
    return web.json_response(injector.faults.to_dict())


async def reset(request: web.Request) -> web.Response:
    state = _state(request)
    state.reset()
    return web.json_response(state.injector.faults.to_dict())


async def stats(request: web.Request) -> web.Response:
    return web.json_response(_state(request).recorder.stats())


async def get_endpoints(request: web.Request) -> web.Response:
    endpoints = _state(request).endpoints
    return web.json_response({name: asdict(e) for name, e in endpoints.items()})


async def post_endpoints(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        added = {
            name: endpoint_from_dict(name, spec)
            for name, spec in (await _json_object(request)).items()
        }
    except ValueError as exc:
        return _bad(str(exc))
    state.endpoints.update(added)
    return await get_endpoints(request)


async def get_profiles(request: web.Request) -> web.Response:
    return web.json_response(_state(request).profiles)


async def post_profiles(request: web.Request) -> web.Response:
    state = _state(request)
    data = await _json_object(request)
    for key, family in data.items():
        if not isinstance(family, str) or not family:
            return _bad(f"profile {key}: family must be a family key or a model id")
    state.profiles.update(data)
    return web.json_response(state.profiles)


async def get_async(request: web.Request) -> web.Response:
    state = _state(request)
    invokes = state.async_invokes
    return web.json_response(
        {
            "delay": invokes.delay,
            "s3": state.s3.url if state.s3 is not None else None,
            "invocations": len(invokes.invocations),
        }
    )


async def post_async(request: web.Request) -> web.Response:
    data = await _json_object(request)
    delay = data.get("delay")
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        return _bad("delay must be a number of seconds >= 0")
    _state(request).async_invokes.delay = float(delay)
    return await get_async(request)


async def families(request: web.Request) -> web.Response:
    return web.json_response({key: list(f.model_ids) for key, f in FAMILIES.items()})


def add_control_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/health", health)
    r.add_get(f"{PREFIX}/requests", get_requests)
    r.add_delete(f"{PREFIX}/requests", delete_requests)
    r.add_get(f"{PREFIX}/faults", get_faults)
    r.add_post(f"{PREFIX}/faults", post_faults)
    r.add_post(f"{PREFIX}/reset", reset)
    r.add_get(f"{PREFIX}/stats", stats)
    r.add_get(f"{PREFIX}/endpoints", get_endpoints)
    r.add_post(f"{PREFIX}/endpoints", post_endpoints)
    r.add_get(f"{PREFIX}/profiles", get_profiles)
    r.add_post(f"{PREFIX}/profiles", post_profiles)
    r.add_get(f"{PREFIX}/families", families)
    r.add_get(f"{PREFIX}/async", get_async)
    r.add_post(f"{PREFIX}/async", post_async)
