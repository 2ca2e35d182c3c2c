# vectorizer sidecar image: gRPC on 50051, HTTP (/healthz /readyz /metrics,
# compat endpoints) on 8080. The same image runs the local AWS emulator
# (`python -m vectorizer.emulator`), as docker-compose.yml does.
#
#   docker build -t vectorizer .
#   docker run -p 50051:50051 -p 8080:8080 -e AWS_REGION=us-east-1 vectorizer

# -- build: a virtualenv holding the package and its generated gRPC stubs ----
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, so code edits do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir vectorizer && touch vectorizer/__init__.py \
    && pip install . && pip uninstall -y vectorizer
COPY vectorizer ./vectorizer
RUN pip install --no-deps . \
    && python -c "from vectorizer.v1 import vectorizer_pb2, vectorizer_pb2_grpc; import vectorizer.server"

# -- runtime ---------------------------------------------------------------
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 vectorizer \
    && useradd --system --uid 10001 --gid vectorizer --no-create-home --shell /usr/sbin/nologin vectorizer
COPY --from=build /opt/venv /opt/venv
COPY examples /app/examples
WORKDIR /app
USER 10001:10001
EXPOSE 50051 8080
# slim has no curl: ask /healthz with the interpreter that is already there.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
# Exec form: the server is PID 1 and gets SIGTERM itself (it drains, then exits 0).
ENTRYPOINT ["vectorizer-server"]
