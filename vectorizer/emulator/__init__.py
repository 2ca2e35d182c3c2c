"""A local stand-in for AWS: Bedrock Runtime and SageMaker Runtime over HTTP.

Real boto3 clients pointed at it with `endpoint_url` work unchanged. It
answers deterministic, lexically similar vectors (`vectors.py`), checks
request bodies the way each Bedrock model family (`bedrock.py`) and each
SageMaker container dialect (`sagemaker.py`) does, checks the SigV4 header
form (`auth.py`), injects faults (`faults.py`), and records what it saw
(`records.py`, read through the control API of `control.py`). `app.py`
serves it; `__main__.py` is the command line:
`python -m vectorizer.emulator --port 4566`.

It imports nothing from the product: it is an independent reading of AWS
behaviour, so the product's mistakes are not mirrored here.
"""

from vectorizer.emulator.vectors import deterministic_vector, purposed_vector, token_vectors

__all__ = ["deterministic_vector", "purposed_vector", "token_vectors"]
