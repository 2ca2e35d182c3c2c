"""The emulator's aiohttp application: AWS routes, faults, recording.

Parts:

- `serve_aws`: one AWS request, in a fixed sequence: route by path (Bedrock
  `/model/{modelId}/invoke`, SageMaker `/endpoints/{name}/invocations`), check
  the SigV4 header form, draw faults, validate the body into an `EmbedPlan`,
  admit it against the quotas (requests and its input tokens), wait the
  latency, embed, corrupt if a fault says so, answer, record.
- `build_app(config)`: the `web.Application` (AWS routes plus the
  `/_emulator/` control API of `control.py`) around an `EmulatorState`
  (`state.py`).

Per-request work is small on purpose (the emulator must never be the
bottleneck of a benchmark): latency is `asyncio.sleep`, vectors are cached
with their JSON text, bodies are parsed for records only when the records
are read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
from urllib.parse import unquote

import orjson
from aiohttp import web

from vectorizer.emulator import bedrock, sagemaker
from vectorizer.emulator.auth import check_auth
from vectorizer.emulator.control import add_control_routes
from vectorizer.emulator.faults import Fault
from vectorizer.emulator.image_vectors import image_wire_vector
from vectorizer.emulator.images import S3Image
from vectorizer.emulator.records import Record, redact_headers
from vectorizer.emulator.s3 import S3ReadError
from vectorizer.emulator.sagemaker import ContainerError
from vectorizer.emulator.state import STATE_KEY, EmulatorConfig, EmulatorState
from vectorizer.emulator.vectors import text_vector
from vectorizer.emulator.wire import (
    ACCOUNT_ID,
    AwsError,
    EmbedPlan,
    Vector,
    error_answer,
    new_request_id,
)

log = logging.getLogger("vectorizer.emulator")

BEDROCK_MAX_BODY = 25_000_000  # botocore service model: InvokeModel body blob max
SAGEMAKER_MAX_BODY = 6_291_456  # botocore service model: InvokeEndpoint body blob max
CLIENT_MAX_SIZE = 32 * 1024 * 1024


# --- routing ------------------------------------------------------------------


def _route(raw_path: str) -> tuple[str, str]:
    """(service, model id or endpoint name) of an AWS path, from the still-encoded path."""
    parts = raw_path.split("/")
    if len(parts) == 4 and parts[0] == "" and parts[1] == "model" and parts[3] == "invoke":
        return "bedrock", unquote(parts[2])
    if len(parts) == 4 and parts[0] == "" and parts[1] == "endpoints" and parts[3] == "invocations":
        return "sagemaker", unquote(parts[2])
    raise AwsError(404, "UnknownOperationException", f"Unknown operation: POST {raw_path[:200]}")


# --- faults that replace the answer -------------------------------------------

_ERROR_CODES = {
    "bedrock": {
        408: (408, "ModelTimeoutException"),
        500: (500, "InternalServerException"),
        503: (503, "ServiceUnavailableException"),
        530: (500, "InternalServerException"),
    },
    "sagemaker": {
        500: (500, "InternalFailure"),
        503: (503, "ServiceUnavailable"),
        530: (530, "InternalDependencyException"),
    },
}


def _model_error(endpoint: str, region: str, status: int, original: str) -> AwsError:
    kind = "client" if status < 500 else "server"
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    message = (
        f'Received {kind} error ({status}) from primary with message "{original}". See '
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logEventViewer:group={group} in account {ACCOUNT_ID} for more information."
    )
    return AwsError(
        424,
        "ModelError",
        message,
        ErrorCode=f"{kind.upper()}_ERROR_FROM_MODEL",
        OriginalStatusCode=status,
        OriginalMessage=original,
        LogStreamArn=f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{group}",
    )


def _fault_error(fault: Fault, service: str, status: int, target: str, region: str) -> AwsError:
    if fault in (Fault.THROTTLE, Fault.QUOTA):
        code_status = 429 if service == "bedrock" else 400
        return AwsError(
            code_status,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        )
    if fault is Fault.NOT_READY:
        return AwsError(
            429, "ModelNotReadyException", "Model is not ready for inference. Try again later."
        )
    if service == "sagemaker" and status == 408:
        return _model_error(target, region, 408, "Your invocation timed out waiting for the model.")
    http, code = _ERROR_CODES[service][status]
    return AwsError(http, code, "The service encountered an internal error. Try again later.")


def _abort(request: web.BaseRequest) -> None:
    """Close the connection with a TCP reset and no answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0 turns close into a RST, which clients see as "connection reset".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _send_truncated(
    request: web.BaseRequest, body: bytes, headers: dict[str, str]
) -> web.StreamResponse:
    """Headers promising all of `body`, half of it, then the connection closes."""
    response = web.StreamResponse(status=200, headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return response


# --- one AWS request ----------------------------------------------------------


async def _wait(delay: float) -> None:
    if delay:
        await asyncio.sleep(delay)


def _plan(state: EmulatorState, record: Record, raw: bytes) -> EmbedPlan:
    target = record.model_or_endpoint
    if record.service == "bedrock":
        if len(raw) > BEDROCK_MAX_BODY:
            raise AwsError(400, "ValidationException", "Input is too long for requested model.")
        family = bedrock.resolve_model(target, state.profiles)
        plan = bedrock.plan_invoke(family, raw)
        failing = state.injector.failing_text(plan.texts)
        if failing is not None:
            resource = target
            if not target.startswith("arn:"):
                resource = f"arn:aws:bedrock:{record.region}::foundation-model/{target}"
            raise AwsError(
                424,
                "ModelErrorException",
                "The model failed to process the input text.",
                originalStatusCode=400,
                resourceName=resource,
            )
        return plan
    if len(raw) > SAGEMAKER_MAX_BODY:
        raise AwsError(
            400,
            "ValidationError",
            "1 validation error detected: Value at 'body' failed to satisfy constraint: "
            f"Member must have length less than or equal to {SAGEMAKER_MAX_BODY}",
        )
    if not sagemaker.NAME_PATTERN.match(target) or len(target) > sagemaker.MAX_NAME_LENGTH:
        raise AwsError(
            400,
            "ValidationError",
            f"1 validation error detected: Value '{target}' at 'endpointName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z0-9](-*[a-zA-Z0-9])*",
        )
    endpoint = state.endpoints.get(target)
    if endpoint is None:
        raise AwsError(
            400, "ValidationError", f"Endpoint {target} of account {ACCOUNT_ID} not found."
        )
    limit = endpoint.body_limit
    if limit is not None and len(raw) > limit:
        raise sagemaker.oversize_error(record.request_id)
    try:
        plan = sagemaker.plan_invocation(endpoint, raw)
        failing = state.injector.failing_text(plan.texts)
        if failing is not None:
            raise ContainerError(400, json.dumps({"error": "the model failed on an input text"}))
    except ContainerError as exc:
        raise _model_error(target, record.region, exc.status, exc.message) from None
    variant = record.headers.get("x-amzn-sagemaker-target-variant") or "AllTraffic"
    plan.headers["X-Amzn-Invoked-Production-Variant"] = variant
    return plan


def _vector(plan: EmbedPlan, index: int, text: str) -> Vector:
    media = plan.media.get(index)
    if isinstance(media, bytes):
        return image_wire_vector(media, plan.dim, plan.purpose, plan.normalize, text=text)
    if isinstance(media, S3Image):
        # Not read (no S3 stand-in configured): the URI stands for the image.
        return text_vector(f"{media.uri}\n{text}", plan.dim, plan.purpose, plan.normalize)
    return text_vector(text, plan.dim, plan.purpose, plan.normalize)


async def _read_s3_images(state: EmulatorState, plan: EmbedPlan) -> None:
    """Images the model reads from S3, read from the stand-in and checked.

    AWS does not document the wording for an object the model cannot read;
    the emulator answers a ValidationException (the request's input is at
    fault, nothing ran) that names the location and S3's reason.
    """
    if state.s3 is None:
        return
    for i, media in list(plan.media.items()):
        if not isinstance(media, S3Image):
            continue
        try:
            data = await asyncio.to_thread(state.s3.read, media.uri, media.bucket_owner)
        except S3ReadError as exc:
            raise AwsError(
                400,
                "ValidationException",
                f"{media.where}: unable to read the S3 object {media.uri}: {exc.code}: "
                f"{exc.message}",
            ) from None
        plan.media[i] = media.check(data)


def _embed(state: EmulatorState, plan: EmbedPlan, record: Record) -> bytes:
    vectors = [_vector(plan, i, t) for i, t in enumerate(plan.texts)]
    corruptions = state.injector.after()
    if Fault.WRONG_COUNT in corruptions and plan.batched and vectors:
        vectors.pop()
        record.fault = Fault.WRONG_COUNT.value
    if Fault.WRONG_DIM in corruptions and vectors:
        vectors[0] = Vector(vectors[0].values[:-1])
        record.fault = Fault.WRONG_DIM.value
    # Compact and cheap: each vector's JSON is made once and copied in as it is.
    body = orjson.dumps(plan.render(vectors))
    if Fault.MALFORMED in corruptions:
        record.fault = Fault.MALFORMED.value
        body = body[: max(1, len(body) // 2)]
    return body


async def serve_aws(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    started = time.monotonic()
    request_id = new_request_id()
    raw_path = request.rel_url.raw_path
    raw = await request.read()
    headers = redact_headers(request.headers)
    record = Record("unknown", raw_path, "", headers, raw, request_id)
    answer_headers = {"x-amzn-RequestId": request_id}
    try:
        record.service, record.model_or_endpoint = _route(raw_path)
        caller = check_auth(request.headers, record.service)
        record.access_key_id = caller.access_key_id
        record.region = caller.region
        record.has_session_token = caller.has_session_token
        injector = state.injector
        fault = injector.before()
        delay = injector.latency_seconds()
        plan = None
        if fault is None or fault is Fault.TRUNCATE:
            # Validated, then admitted on arrival: the quota sees the request's tokens.
            try:
                plan = _plan(state, record, raw)
                await _read_s3_images(state, plan)
            except AwsError:
                await _wait(delay)
                raise
            if not injector.admit(record.service, record.model_or_endpoint, plan.tokens):
                fault = Fault.QUOTA
        await _wait(delay)
        if fault is Fault.RESET:
            record.fault = fault.value
            _abort(request)
            return web.Response(status=200)  # never sent: the connection is gone
        if fault is not None and fault is not Fault.TRUNCATE:
            record.fault = fault.value
            status = injector.faults.error_status
            raise _fault_error(
                fault, record.service, status, record.model_or_endpoint, caller.region
            )
        assert plan is not None
        body = _embed(state, plan, record)
        answer_headers.update(plan.headers)
        answer_headers["Content-Type"] = "application/json"
        if record.service == "bedrock":
            latency_ms = int((time.monotonic() - started) * 1000)
            answer_headers["X-Amzn-Bedrock-Invocation-Latency"] = str(latency_ms)
        record.status = 200
        if fault is Fault.TRUNCATE:
            record.fault = fault.value
            return await _send_truncated(request, body, answer_headers)
        return web.Response(body=body, status=200, headers=answer_headers)
    except Exception as exc:
        if not isinstance(exc, AwsError):
            # An emulator bug must still look like AWS, so the client under test reacts sanely.
            log.exception("emulator failed on %s", raw_path)
            exc = AwsError(500, "InternalServerException", f"emulator error: {exc!r}"[:500])
        error = exc
        record.status = error.status
        record.error_code = error.code
        service = record.service if record.service != "unknown" else "bedrock"
        body, error_headers = error_answer(service, error)
        answer_headers.update(error_headers)
        return web.Response(body=body, status=error.status, headers=answer_headers)
    finally:
        state.recorder.add(record)
        if state.config.log_requests:
            log.info(
                "%s %s %s status=%s code=%s fault=%s",
                record.service,
                record.model_or_endpoint,
                record.access_key_id,
                record.status,
                record.error_code,
                record.fault,
            )


async def serve_async_invoke(request: web.Request) -> web.Response:
    """StartAsyncInvoke, GetAsyncInvoke and ListAsyncInvokes (`async_invoke.py`)."""
    state = request.app[STATE_KEY]
    raw_path = request.rel_url.raw_path
    raw = await request.read()
    record = Record("bedrock", raw_path, "", redact_headers(request.headers), raw, new_request_id())
    headers = {"x-amzn-RequestId": record.request_id, "Content-Type": "application/json"}
    invokes = state.async_invokes
    try:
        caller = check_auth(request.headers, "bedrock")
        record.access_key_id, record.region = caller.access_key_id, caller.region
        record.has_session_token = caller.has_session_token
        if request.method == "POST" and raw_path == "/async-invoke":
            record.model_or_endpoint = "StartAsyncInvoke"
            answer = invokes.start(raw, caller.region)
        elif request.method == "GET" and raw_path.startswith("/async-invoke/"):
            record.model_or_endpoint = "GetAsyncInvoke"
            answer = invokes.get(unquote(raw_path[len("/async-invoke/") :]))
        elif request.method == "GET" and raw_path == "/async-invoke":
            record.model_or_endpoint = "ListAsyncInvokes"
            answer = invokes.list_(request.rel_url.raw_query_string)
        else:
            raise AwsError(
                404, "UnknownOperationException", f"Unknown operation: {request.method} {raw_path}"
            )
        record.status = 200
        return web.Response(body=json.dumps(answer).encode(), status=200, headers=headers)
    except Exception as exc:
        if not isinstance(exc, AwsError):
            log.exception("emulator failed on %s", raw_path)
            exc = AwsError(500, "InternalServerException", f"emulator error: {exc!r}"[:500])
        record.status, record.error_code = exc.status, exc.code
        body, error_headers = error_answer("bedrock", exc)
        headers.update(error_headers)
        return web.Response(body=body, status=exc.status, headers=headers)
    finally:
        state.recorder.add(record)


def build_app(config: EmulatorConfig) -> web.Application:
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    state = app[STATE_KEY] = EmulatorState(config)
    add_control_routes(app)
    app.router.add_route("*", "/async-invoke", serve_async_invoke)
    app.router.add_get("/async-invoke/{tail:.*}", serve_async_invoke)
    app.router.add_post("/{tail:.*}", serve_aws)

    async def close_state(_app: web.Application) -> None:
        state.close()

    app.on_cleanup.append(close_state)
    return app
