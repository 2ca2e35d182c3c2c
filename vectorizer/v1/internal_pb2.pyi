from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class VectorizeRequestBytes(_message.Message):
    __slots__ = ("texts", "purpose", "config", "collection", "inputs", "vector_format")
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FORMAT_FIELD_NUMBER: _ClassVar[int]
    texts: _containers.RepeatedScalarFieldContainer[bytes]
    purpose: int
    config: bytes
    collection: bytes
    inputs: _containers.RepeatedScalarFieldContainer[bytes]
    vector_format: int
    def __init__(self, texts: _Optional[_Iterable[bytes]] = ..., purpose: _Optional[int] = ..., config: _Optional[bytes] = ..., collection: _Optional[bytes] = ..., inputs: _Optional[_Iterable[bytes]] = ..., vector_format: _Optional[int] = ...) -> None: ...

class VectorizeObjectsRequestBytes(_message.Message):
    __slots__ = ("objects", "class_name", "property_schema", "purpose", "config", "collection", "vector_format")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    PROPERTY_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FORMAT_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedScalarFieldContainer[bytes]
    class_name: bytes
    property_schema: _containers.RepeatedScalarFieldContainer[bytes]
    purpose: int
    config: bytes
    collection: bytes
    vector_format: int
    def __init__(self, objects: _Optional[_Iterable[bytes]] = ..., class_name: _Optional[bytes] = ..., property_schema: _Optional[_Iterable[bytes]] = ..., purpose: _Optional[int] = ..., config: _Optional[bytes] = ..., collection: _Optional[bytes] = ..., vector_format: _Optional[int] = ...) -> None: ...
