from vectorizer.v1 import vectorizer_pb2 as _vectorizer_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MediaKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_KIND_UNSPECIFIED: _ClassVar[MediaKind]
    MEDIA_KIND_VIDEO: _ClassVar[MediaKind]
    MEDIA_KIND_AUDIO: _ClassVar[MediaKind]

class MediaJobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_JOB_STATE_UNSPECIFIED: _ClassVar[MediaJobState]
    MEDIA_JOB_SUBMITTING: _ClassVar[MediaJobState]
    MEDIA_JOB_IN_PROGRESS: _ClassVar[MediaJobState]
    MEDIA_JOB_READING_OUTPUT: _ClassVar[MediaJobState]
    MEDIA_JOB_COMPLETED: _ClassVar[MediaJobState]
    MEDIA_JOB_FAILED: _ClassVar[MediaJobState]
MEDIA_KIND_UNSPECIFIED: MediaKind
MEDIA_KIND_VIDEO: MediaKind
MEDIA_KIND_AUDIO: MediaKind
MEDIA_JOB_STATE_UNSPECIFIED: MediaJobState
MEDIA_JOB_SUBMITTING: MediaJobState
MEDIA_JOB_IN_PROGRESS: MediaJobState
MEDIA_JOB_READING_OUTPUT: MediaJobState
MEDIA_JOB_COMPLETED: MediaJobState
MEDIA_JOB_FAILED: MediaJobState

class Media(_message.Message):
    __slots__ = ("s3_uri", "bucket_owner", "data", "mime_type")
    S3_URI_FIELD_NUMBER: _ClassVar[int]
    BUCKET_OWNER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    s3_uri: str
    bucket_owner: str
    data: bytes
    mime_type: str
    def __init__(self, s3_uri: _Optional[str] = ..., bucket_owner: _Optional[str] = ..., data: _Optional[bytes] = ..., mime_type: _Optional[str] = ...) -> None: ...

class MediaSegmentation(_message.Message):
    __slots__ = ("segment_seconds", "start_seconds", "end_seconds", "min_segment_seconds")
    SEGMENT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SEGMENT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    segment_seconds: float
    start_seconds: float
    end_seconds: float
    min_segment_seconds: float
    def __init__(self, segment_seconds: _Optional[float] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ..., min_segment_seconds: _Optional[float] = ...) -> None: ...

class SubmitMediaJobRequest(_message.Message):
    __slots__ = ("config", "collection", "media", "purpose", "segmentation", "embedding_options", "output_s3_uri", "client_token")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTATION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_S3_URI_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    config: _vectorizer_pb2.CollectionConfig
    collection: str
    media: Media
    purpose: _vectorizer_pb2.Purpose
    segmentation: MediaSegmentation
    embedding_options: _containers.RepeatedScalarFieldContainer[str]
    output_s3_uri: str
    client_token: str
    def __init__(self, config: _Optional[_Union[_vectorizer_pb2.CollectionConfig, _Mapping]] = ..., collection: _Optional[str] = ..., media: _Optional[_Union[Media, _Mapping]] = ..., purpose: _Optional[_Union[_vectorizer_pb2.Purpose, str]] = ..., segmentation: _Optional[_Union[MediaSegmentation, _Mapping]] = ..., embedding_options: _Optional[_Iterable[str]] = ..., output_s3_uri: _Optional[str] = ..., client_token: _Optional[str] = ...) -> None: ...

class MediaSegment(_message.Message):
    __slots__ = ("index", "start_seconds", "end_seconds", "embedding_option", "scope", "vector", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    START_SECONDS_FIELD_NUMBER: _ClassVar[int]
    END_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_OPTION_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    start_seconds: float
    end_seconds: float
    embedding_option: str
    scope: str
    vector: _vectorizer_pb2.Vector
    error: _vectorizer_pb2.ItemError
    def __init__(self, index: _Optional[int] = ..., start_seconds: _Optional[float] = ..., end_seconds: _Optional[float] = ..., embedding_option: _Optional[str] = ..., scope: _Optional[str] = ..., vector: _Optional[_Union[_vectorizer_pb2.Vector, _Mapping]] = ..., error: _Optional[_Union[_vectorizer_pb2.ItemError, _Mapping]] = ...) -> None: ...

class MediaJob(_message.Message):
    __slots__ = ("job_id", "state", "model", "kind", "format", "source_s3_uri", "output_s3_uri", "invocation_arn", "submit_time_ms", "update_time_ms", "end_time_ms", "polls", "error", "segment_count", "dimensions", "segments", "next_page_token")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_S3_URI_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_S3_URI_FIELD_NUMBER: _ClassVar[int]
    INVOCATION_ARN_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    END_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    POLLS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: MediaJobState
    model: str
    kind: MediaKind
    format: str
    source_s3_uri: str
    output_s3_uri: str
    invocation_arn: str
    submit_time_ms: int
    update_time_ms: int
    end_time_ms: int
    polls: int
    error: _vectorizer_pb2.ItemError
    segment_count: int
    dimensions: int
    segments: _containers.RepeatedCompositeFieldContainer[MediaSegment]
    next_page_token: str
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[MediaJobState, str]] = ..., model: _Optional[str] = ..., kind: _Optional[_Union[MediaKind, str]] = ..., format: _Optional[str] = ..., source_s3_uri: _Optional[str] = ..., output_s3_uri: _Optional[str] = ..., invocation_arn: _Optional[str] = ..., submit_time_ms: _Optional[int] = ..., update_time_ms: _Optional[int] = ..., end_time_ms: _Optional[int] = ..., polls: _Optional[int] = ..., error: _Optional[_Union[_vectorizer_pb2.ItemError, _Mapping]] = ..., segment_count: _Optional[int] = ..., dimensions: _Optional[int] = ..., segments: _Optional[_Iterable[_Union[MediaSegment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetMediaJobRequest(_message.Message):
    __slots__ = ("job_id", "include_segments", "page_size", "page_token")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    include_segments: bool
    page_size: int
    page_token: str
    def __init__(self, job_id: _Optional[str] = ..., include_segments: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class WatchMediaJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...
