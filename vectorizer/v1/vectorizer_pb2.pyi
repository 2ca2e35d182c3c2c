from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Purpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURPOSE_UNSPECIFIED: _ClassVar[Purpose]
    PURPOSE_DOCUMENT: _ClassVar[Purpose]
    PURPOSE_QUERY: _ClassVar[Purpose]

class VectorFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VECTOR_FORMAT_UNSPECIFIED: _ClassVar[VectorFormat]
    VECTOR_FORMAT_VALUES: _ClassVar[VectorFormat]
    VECTOR_FORMAT_PACKED_FLOAT32: _ClassVar[VectorFormat]
PURPOSE_UNSPECIFIED: Purpose
PURPOSE_DOCUMENT: Purpose
PURPOSE_QUERY: Purpose
VECTOR_FORMAT_UNSPECIFIED: VectorFormat
VECTOR_FORMAT_VALUES: VectorFormat
VECTOR_FORMAT_PACKED_FLOAT32: VectorFormat

class CollectionConfig(_message.Message):
    __slots__ = ("service", "region", "model", "endpoint", "target_model", "target_variant", "vectorize_class_name", "properties", "dimensions", "normalize", "truncate", "family", "input_type", "inference_component", "custom_attributes", "payload_format", "batch_size", "lowercase", "text_fields", "image_fields", "weights", "max_payload_bytes", "serverless")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    TARGET_MODEL_FIELD_NUMBER: _ClassVar[int]
    TARGET_VARIANT_FIELD_NUMBER: _ClassVar[int]
    VECTORIZE_CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    NORMALIZE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    INPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_COMPONENT_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FORMAT_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOWERCASE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELDS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELDS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    MAX_PAYLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    SERVERLESS_FIELD_NUMBER: _ClassVar[int]
    service: str
    region: str
    model: str
    endpoint: str
    target_model: str
    target_variant: str
    vectorize_class_name: bool
    properties: _containers.RepeatedScalarFieldContainer[str]
    dimensions: int
    normalize: bool
    truncate: str
    family: str
    input_type: str
    inference_component: str
    custom_attributes: str
    payload_format: str
    batch_size: int
    lowercase: bool
    text_fields: _containers.RepeatedScalarFieldContainer[str]
    image_fields: _containers.RepeatedScalarFieldContainer[str]
    weights: FieldWeights
    max_payload_bytes: int
    serverless: bool
    def __init__(self, service: _Optional[str] = ..., region: _Optional[str] = ..., model: _Optional[str] = ..., endpoint: _Optional[str] = ..., target_model: _Optional[str] = ..., target_variant: _Optional[str] = ..., vectorize_class_name: _Optional[bool] = ..., properties: _Optional[_Iterable[str]] = ..., dimensions: _Optional[int] = ..., normalize: _Optional[bool] = ..., truncate: _Optional[str] = ..., family: _Optional[str] = ..., input_type: _Optional[str] = ..., inference_component: _Optional[str] = ..., custom_attributes: _Optional[str] = ..., payload_format: _Optional[str] = ..., batch_size: _Optional[int] = ..., lowercase: _Optional[bool] = ..., text_fields: _Optional[_Iterable[str]] = ..., image_fields: _Optional[_Iterable[str]] = ..., weights: _Optional[_Union[FieldWeights, _Mapping]] = ..., max_payload_bytes: _Optional[int] = ..., serverless: _Optional[bool] = ...) -> None: ...

class FieldWeights(_message.Message):
    __slots__ = ("text_fields", "image_fields")
    TEXT_FIELDS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELDS_FIELD_NUMBER: _ClassVar[int]
    text_fields: _containers.RepeatedScalarFieldContainer[float]
    image_fields: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, text_fields: _Optional[_Iterable[float]] = ..., image_fields: _Optional[_Iterable[float]] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("data", "mime_type", "s3_uri", "bucket_owner", "detail")
    DATA_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    S3_URI_FIELD_NUMBER: _ClassVar[int]
    BUCKET_OWNER_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    mime_type: str
    s3_uri: str
    bucket_owner: str
    detail: str
    def __init__(self, data: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., s3_uri: _Optional[str] = ..., bucket_owner: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Input(_message.Message):
    __slots__ = ("text", "image")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    image: Image
    def __init__(self, text: _Optional[str] = ..., image: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class VectorizeRequest(_message.Message):
    __slots__ = ("texts", "purpose", "config", "collection", "inputs", "vector_format")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FORMAT_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[str]
    purpose: Purpose
    config: CollectionConfig
    collection: str
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    vector_format: VectorFormat
    def __init__(self, texts: _Optional[_Iterable[str]] = ..., purpose: _Optional[_Union[Purpose, str]] = ..., config: _Optional[_Union[CollectionConfig, _Mapping]] = ..., collection: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ..., vector_format: _Optional[_Union[VectorFormat, str]] = ...) -> None: ...

class PropertySchema(_message.Message):
    __slots__ = ("name", "skip", "vectorize_property_name", "data_type", "indexed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    VECTORIZE_PROPERTY_NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_TYPE_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    name: str
    skip: bool
    vectorize_property_name: bool
    data_type: str
    indexed: bool
    def __init__(self, name: _Optional[str] = ..., skip: _Optional[bool] = ..., vectorize_property_name: _Optional[bool] = ..., data_type: _Optional[str] = ..., indexed: _Optional[bool] = ...) -> None: ...

class VectorizeObject(_message.Message):
    __slots__ = ("id", "properties")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    properties: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., properties: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class VectorizeObjectsRequest(_message.Message):
    __slots__ = ("objects", "class_name", "property_schema", "purpose", "config", "collection", "vector_format")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FORMAT_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[VectorizeObject]
    class_name: str
    property_schema: _containers.RepeatedCompositeFieldContainer[PropertySchema]
    purpose: Purpose
    config: CollectionConfig
    collection: str
    vector_format: VectorFormat
    def __init__(self, objects: _Optional[_Iterable[_Union[VectorizeObject, _Mapping]]] = ..., class_name: _Optional[str] = ..., property_schema: _Optional[_Iterable[_Union[PropertySchema, _Mapping]]] = ..., purpose: _Optional[_Union[Purpose, str]] = ..., config: _Optional[_Union[CollectionConfig, _Mapping]] = ..., collection: _Optional[str] = ..., vector_format: _Optional[_Union[VectorFormat, str]] = ...) -> None: ...

class Vector(_message.Message):
    __slots__ = ("values", "packed")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    PACKED_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    packed: bytes
    def __init__(self, values: _Optional[_Iterable[float]] = ..., packed: _Optional[bytes] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("code", "message", "retryable")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    retryable: bool
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("vector", "error")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    vector: Vector
    error: ItemError
    def __init__(self, vector: _Optional[_Union[Vector, _Mapping]] = ..., error: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens",)
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    def __init__(self, input_tokens: _Optional[int] = ...) -> None: ...

class VectorizeResponse(_message.Message):
    __slots__ = ("results", "model", "dimensions", "usage")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Result]
    model: str
    dimensions: int
    usage: Usage
    def __init__(self, results: _Optional[_Iterable[_Union[Result, _Mapping]]] = ..., model: _Optional[str] = ..., dimensions: _Optional[int] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class ValidateConfigRequest(_message.Message):
    __slots__ = ("config", "class_name", "property_schema")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    config: CollectionConfig
    class_name: str
    property_schema: _containers.RepeatedCompositeFieldContainer[PropertySchema]
    def __init__(self, config: _Optional[_Union[CollectionConfig, _Mapping]] = ..., class_name: _Optional[str] = ..., property_schema: _Optional[_Iterable[_Union[PropertySchema, _Mapping]]] = ...) -> None: ...

class ValidateConfigResponse(_message.Message):
    __slots__ = ("valid", "errors")
    VALID_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, valid: _Optional[bool] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class GetMetaRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelFamily(_message.Message):
    __slots__ = ("name", "model_ids", "dimensions", "default_dimensions", "max_batch_size", "max_input", "supports_purpose", "native_normalize", "truncate_modes", "legacy", "end_of_life", "successor", "image_formats", "max_image_bytes", "images_per_call", "image_s3", "joint_text_image")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_IDS_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUT_FIELD_NUMBER: _ClassVar[int]
    SUPPORTS_PURPOSE_FIELD_NUMBER: _ClassVar[int]
    NATIVE_NORMALIZE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_MODES_FIELD_NUMBER: _ClassVar[int]
    LEGACY_FIELD_NUMBER: _ClassVar[int]
    END_OF_LIFE_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FORMATS_FIELD_NUMBER: _ClassVar[int]
    MAX_IMAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    IMAGES_PER_CALL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_S3_FIELD_NUMBER: _ClassVar[int]
    JOINT_TEXT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_ids: _containers.RepeatedScalarFieldContainer[str]
    dimensions: _containers.RepeatedScalarFieldContainer[int]
    default_dimensions: int
    max_batch_size: int
    max_input: str
    supports_purpose: bool
    native_normalize: bool
    truncate_modes: _containers.RepeatedScalarFieldContainer[str]
    legacy: bool
    end_of_life: str
    successor: str
    image_formats: _containers.RepeatedScalarFieldContainer[str]
    max_image_bytes: int
    images_per_call: int
    image_s3: bool
    joint_text_image: bool
    def __init__(self, name: _Optional[str] = ..., model_ids: _Optional[_Iterable[str]] = ..., dimensions: _Optional[_Iterable[int]] = ..., default_dimensions: _Optional[int] = ..., max_batch_size: _Optional[int] = ..., max_input: _Optional[str] = ..., supports_purpose: _Optional[bool] = ..., native_normalize: _Optional[bool] = ..., truncate_modes: _Optional[_Iterable[str]] = ..., legacy: _Optional[bool] = ..., end_of_life: _Optional[str] = ..., successor: _Optional[str] = ..., image_formats: _Optional[_Iterable[str]] = ..., max_image_bytes: _Optional[int] = ..., images_per_call: _Optional[int] = ..., image_s3: _Optional[bool] = ..., joint_text_image: _Optional[bool] = ...) -> None: ...

class GetMetaResponse(_message.Message):
    __slots__ = ("version", "services", "families", "payload_formats", "collections", "rate_budget")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    FAMILIES_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FORMATS_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    RATE_BUDGET_FIELD_NUMBER: _ClassVar[int]
    version: str
    services: _containers.RepeatedScalarFieldContainer[str]
    families: _containers.RepeatedCompositeFieldContainer[ModelFamily]
    payload_formats: _containers.RepeatedScalarFieldContainer[str]
    collections: _containers.RepeatedScalarFieldContainer[str]
    rate_budget: str
    def __init__(self, version: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ..., families: _Optional[_Iterable[_Union[ModelFamily, _Mapping]]] = ..., payload_formats: _Optional[_Iterable[str]] = ..., collections: _Optional[_Iterable[str]] = ..., rate_budget: _Optional[str] = ...) -> None: ...
