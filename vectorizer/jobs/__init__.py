"""Media jobs: video and audio embedded through Bedrock's asynchronous invoke.

- `model.py`: `JobRecord` (everything needed to resume a job after a restart,
  never a secret) and `JobState`.
- `store.py`: the `JobStore` interface, its SQLite implementation (a file in
  --jobs-dir, or memory), and `open_store` that picks one from settings.
- `redis_store.py`: the Redis implementation, shared by replicas, with a
  per-job polling lease.
- `manager.py`: `MediaJobs`: submit (upload, StartAsyncInvoke), poll, read the
  output from S3, watch, and resume every unfinished job on start.
"""
