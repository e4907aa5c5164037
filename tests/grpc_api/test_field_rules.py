"""Every malformed field of a request → INVALID_ARGUMENT whose message starts with the field."""

from __future__ import annotations

import grpc
import pytest

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from tests.service_thread import ServiceThread


def _cond(**kw: object) -> pb.FieldCondition:
    return pb.FieldCondition(**kw)


def _strings(field: str, *values: str) -> list[pb.FieldCondition]:
    return [_cond(field=field, any_of_strings=pb.StringValues(values=values))]


def _integers(field: str, *values: int) -> list[pb.FieldCondition]:
    return [_cond(field=field, any_of_integers=pb.IntegerValues(values=values))]


def _range(field: str, **bounds: float) -> list[pb.FieldCondition]:
    return [_cond(field=field, range=pb.NumericRange(**bounds))]


CASES = [
    ("user_id", {"user_id": ""}),
    ("user_id", {"user_id": "x" * 257}),
    ("user_id", {"user_id": "bad\x00id"}),
    ("user_id", {"user_id": " padded"}),
    ("request_id", {"request_id": "r" * 300}),
    ("prompt", {"prompt": "p" * 1001}),
    ("prompt", {"prompt": "more\x07comedies"}),
    ("top_k", {"top_k": 0}),
    ("top_k", {"top_k": 201}),
    ("strength", {"strength": -0.1}),
    ("strength", {"strength": 4.5}),
    ("strength", {"strength": float("nan")}),
    ("negative_mode", {"negative_mode": 7}),
    ("history.item_ids[1]", {"history": pb.InlineHistory(item_ids=["1", ""])}),
    ("history.item_ids", {"history": pb.InlineHistory(item_ids=["1"] * 1001)}),
    ("must_tags[0]", {"must_tags": ["NotATag"]}),
    ("must_not_tags[1]", {"must_not_tags": ["Comedy", ""]}),
    ("exclude_item_ids[0]", {"exclude_item_ids": [""]}),
    ("must[0].field", {"must": _strings("colour", "x")}),
    ("must[0]", {"must": [_cond(field="tags")]}),
    ("must[0].any_of_strings.values", {"must": _strings("tags")}),
    ("must[0].any_of_integers", {"must": _integers("tags")}),
    ("must[0].range", {"must": _range("year")}),
    ("must[0].range", {"must": _range("year", gte=2000, lte=1990)}),
    ("must[0].range", {"must": _range("tags", gte=1)}),
    ("must[0].range.lte", {"must": _range("year", lte=float("inf"))}),
    ("must_not[0].field", {"must_not": _strings("", "x")}),
    ("must", {"must": _range("year", gte=1) * 33}),
    ("payload_fields[1]", {"payload_fields": ["title", "secret"]}),
]


IDS = [f"{field}#{i}" for i, (field, _) in enumerate(CASES)]


@pytest.mark.parametrize(("field", "change"), CASES, ids=IDS)
def test_malformed_field_is_invalid_argument_naming_it(
    service: ServiceThread, field: str, change: dict
) -> None:
    request = pb.SteerRequest(user_id="1", prompt="more comedies")
    for name, value in change.items():
        if isinstance(value, list):
            getattr(request, name).extend(value)
        elif hasattr(value, "SerializeToString"):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    with pytest.raises(grpc.RpcError) as info:
        service.stub.Steer(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert info.value.details().startswith(f"{field}:"), info.value.details()


@pytest.mark.parametrize(
    ("field", "request_fields"),
    [
        ("user_id", {"user_id": "", "item_ids": ["1"]}),
        ("item_ids", {"user_id": "u", "item_ids": []}),
        ("item_ids[0]", {"user_id": "u", "item_ids": ["\n"]}),
    ],
)
def test_malformed_append_is_invalid_argument_naming_the_field(
    service: ServiceThread, field: str, request_fields: dict
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        service.stub.AppendInteractions(pb.AppendInteractionsRequest(**request_fields), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(f"{field}:"), info.value.details()
