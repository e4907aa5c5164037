from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NegativeMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NEGATIVE_MODE_UNSPECIFIED: _ClassVar[NegativeMode]
    NEGATIVE_MODE_SOFT: _ClassVar[NegativeMode]
    NEGATIVE_MODE_HARD: _ClassVar[NegativeMode]
    NEGATIVE_MODE_HYBRID: _ClassVar[NegativeMode]
    NEGATIVE_MODE_AUTO: _ClassVar[NegativeMode]

class ServedPath(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVED_PATH_UNSPECIFIED: _ClassVar[ServedPath]
    SERVED_PATH_STEERED: _ClassVar[ServedPath]
    SERVED_PATH_UNSTEERED: _ClassVar[ServedPath]
    SERVED_PATH_FALLBACK_UNSTEERED: _ClassVar[ServedPath]
    SERVED_PATH_COLD_START: _ClassVar[ServedPath]

class Polarity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLARITY_UNSPECIFIED: _ClassVar[Polarity]
    POLARITY_NONE: _ClassVar[Polarity]
    POLARITY_POSITIVE: _ClassVar[Polarity]
    POLARITY_NEGATIVE: _ClassVar[Polarity]

class Application(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPLICATION_UNSPECIFIED: _ClassVar[Application]
    APPLICATION_STEERED: _ClassVar[Application]
    APPLICATION_FILTERED: _ClassVar[Application]
    APPLICATION_STEERED_AND_FILTERED: _ClassVar[Application]
    APPLICATION_NOT_APPLIED: _ClassVar[Application]
NEGATIVE_MODE_UNSPECIFIED: NegativeMode
NEGATIVE_MODE_SOFT: NegativeMode
NEGATIVE_MODE_HARD: NegativeMode
NEGATIVE_MODE_HYBRID: NegativeMode
NEGATIVE_MODE_AUTO: NegativeMode
SERVED_PATH_UNSPECIFIED: ServedPath
SERVED_PATH_STEERED: ServedPath
SERVED_PATH_UNSTEERED: ServedPath
SERVED_PATH_FALLBACK_UNSTEERED: ServedPath
SERVED_PATH_COLD_START: ServedPath
POLARITY_UNSPECIFIED: Polarity
POLARITY_NONE: Polarity
POLARITY_POSITIVE: Polarity
POLARITY_NEGATIVE: Polarity
APPLICATION_UNSPECIFIED: Application
APPLICATION_STEERED: Application
APPLICATION_FILTERED: Application
APPLICATION_STEERED_AND_FILTERED: Application
APPLICATION_NOT_APPLIED: Application

class FieldCondition(_message.Message):
    __slots__ = ("field", "any_of_strings", "any_of_integers", "range")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    ANY_OF_STRINGS_FIELD_NUMBER: _ClassVar[int]
    ANY_OF_INTEGERS_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    any_of_strings: StringValues
    any_of_integers: IntegerValues
    range: NumericRange
    def __init__(self, field: _Optional[str] = ..., any_of_strings: _Optional[_Union[StringValues, _Mapping]] = ..., any_of_integers: _Optional[_Union[IntegerValues, _Mapping]] = ..., range: _Optional[_Union[NumericRange, _Mapping]] = ...) -> None: ...

class StringValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class IntegerValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class NumericRange(_message.Message):
    __slots__ = ("gte", "lte")
    GTE_FIELD_NUMBER: _ClassVar[int]
    LTE_FIELD_NUMBER: _ClassVar[int]
    gte: float
    lte: float
    def __init__(self, gte: _Optional[float] = ..., lte: _Optional[float] = ...) -> None: ...

class InlineHistory(_message.Message):
    __slots__ = ("item_ids",)
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SteerRequest(_message.Message):
    __slots__ = ("request_id", "user_id", "prompt", "top_k", "history", "must_tags", "must_not_tags", "must", "must_not", "exclude_item_ids", "exclude_seen", "strength", "negative_mode", "payload_fields")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    MUST_TAGS_FIELD_NUMBER: _ClassVar[int]
    MUST_NOT_TAGS_FIELD_NUMBER: _ClassVar[int]
    MUST_FIELD_NUMBER: _ClassVar[int]
    MUST_NOT_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_SEEN_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_MODE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    user_id: str
    prompt: str
    top_k: int
    history: InlineHistory
    must_tags: _containers.RepeatedScalarFieldContainer[str]
    must_not_tags: _containers.RepeatedScalarFieldContainer[str]
    must: _containers.RepeatedCompositeFieldContainer[FieldCondition]
    must_not: _containers.RepeatedCompositeFieldContainer[FieldCondition]
    exclude_item_ids: _containers.RepeatedScalarFieldContainer[str]
    exclude_seen: bool
    strength: float
    negative_mode: NegativeMode
    payload_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., user_id: _Optional[str] = ..., prompt: _Optional[str] = ..., top_k: _Optional[int] = ..., history: _Optional[_Union[InlineHistory, _Mapping]] = ..., must_tags: _Optional[_Iterable[str]] = ..., must_not_tags: _Optional[_Iterable[str]] = ..., must: _Optional[_Iterable[_Union[FieldCondition, _Mapping]]] = ..., must_not: _Optional[_Iterable[_Union[FieldCondition, _Mapping]]] = ..., exclude_item_ids: _Optional[_Iterable[str]] = ..., exclude_seen: _Optional[bool] = ..., strength: _Optional[float] = ..., negative_mode: _Optional[_Union[NegativeMode, str]] = ..., payload_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ScoredItem(_message.Message):
    __slots__ = ("item_id", "score", "unsteered_score", "unsteered_rank", "rank_change", "payload")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    UNSTEERED_SCORE_FIELD_NUMBER: _ClassVar[int]
    UNSTEERED_RANK_FIELD_NUMBER: _ClassVar[int]
    RANK_CHANGE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    score: float
    unsteered_score: float
    unsteered_rank: int
    rank_change: int
    payload: _struct_pb2.Struct
    def __init__(self, item_id: _Optional[str] = ..., score: _Optional[float] = ..., unsteered_score: _Optional[float] = ..., unsteered_rank: _Optional[int] = ..., rank_change: _Optional[int] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class TagScore(_message.Message):
    __slots__ = ("tag", "score")
    TAG_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    tag: str
    score: float
    def __init__(self, tag: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class Clause(_message.Message):
    __slots__ = ("text", "start", "end", "polarity", "tags", "any_of", "range_field", "range", "item_id", "item_title", "strength", "applied", "source")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    POLARITY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ANY_OF_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_TITLE_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    text: str
    start: int
    end: int
    polarity: Polarity
    tags: _containers.RepeatedCompositeFieldContainer[TagScore]
    any_of: bool
    range_field: str
    range: NumericRange
    item_id: str
    item_title: str
    strength: float
    applied: Application
    source: str
    def __init__(self, text: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., polarity: _Optional[_Union[Polarity, str]] = ..., tags: _Optional[_Iterable[_Union[TagScore, _Mapping]]] = ..., any_of: _Optional[bool] = ..., range_field: _Optional[str] = ..., range: _Optional[_Union[NumericRange, _Mapping]] = ..., item_id: _Optional[str] = ..., item_title: _Optional[str] = ..., strength: _Optional[float] = ..., applied: _Optional[_Union[Application, str]] = ..., source: _Optional[str] = ...) -> None: ...

class Understanding(_message.Message):
    __slots__ = ("polarity", "negative_probability", "tags", "expert_weights", "expert_names", "hard_filtered_tags", "strength", "clauses", "unread")
    POLARITY_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    EXPERT_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    EXPERT_NAMES_FIELD_NUMBER: _ClassVar[int]
    HARD_FILTERED_TAGS_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    CLAUSES_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    polarity: Polarity
    negative_probability: float
    tags: _containers.RepeatedCompositeFieldContainer[TagScore]
    expert_weights: _containers.RepeatedScalarFieldContainer[float]
    expert_names: _containers.RepeatedScalarFieldContainer[str]
    hard_filtered_tags: _containers.RepeatedScalarFieldContainer[str]
    strength: float
    clauses: _containers.RepeatedCompositeFieldContainer[Clause]
    unread: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, polarity: _Optional[_Union[Polarity, str]] = ..., negative_probability: _Optional[float] = ..., tags: _Optional[_Iterable[_Union[TagScore, _Mapping]]] = ..., expert_weights: _Optional[_Iterable[float]] = ..., expert_names: _Optional[_Iterable[str]] = ..., hard_filtered_tags: _Optional[_Iterable[str]] = ..., strength: _Optional[float] = ..., clauses: _Optional[_Iterable[_Union[Clause, _Mapping]]] = ..., unread: _Optional[_Iterable[str]] = ...) -> None: ...

class SteerResponse(_message.Message):
    __slots__ = ("request_id", "items", "understood", "served_path", "fallback_reason", "model_version", "history_length", "unknown_history_items", "index_generation")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    UNDERSTOOD_FIELD_NUMBER: _ClassVar[int]
    SERVED_PATH_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_HISTORY_ITEMS_FIELD_NUMBER: _ClassVar[int]
    INDEX_GENERATION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    items: _containers.RepeatedCompositeFieldContainer[ScoredItem]
    understood: Understanding
    served_path: ServedPath
    fallback_reason: str
    model_version: str
    history_length: int
    unknown_history_items: int
    index_generation: str
    def __init__(self, request_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[ScoredItem, _Mapping]]] = ..., understood: _Optional[_Union[Understanding, _Mapping]] = ..., served_path: _Optional[_Union[ServedPath, str]] = ..., fallback_reason: _Optional[str] = ..., model_version: _Optional[str] = ..., history_length: _Optional[int] = ..., unknown_history_items: _Optional[int] = ..., index_generation: _Optional[str] = ...) -> None: ...

class AppendInteractionsRequest(_message.Message):
    __slots__ = ("user_id", "item_ids", "idempotency_key")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    idempotency_key: str
    def __init__(self, user_id: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class AppendInteractionsResponse(_message.Message):
    __slots__ = ("history_length",)
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    history_length: int
    def __init__(self, history_length: _Optional[int] = ...) -> None: ...
