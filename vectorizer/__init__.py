"""vectorizer: a gRPC sidecar that embeds text with Amazon Bedrock and SageMaker."""

__version__ = "0.1.0"
