"""Fuzzed Steer requests: every answer is a valid response or a clean client error."""

from __future__ import annotations

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from tests.service_thread import ServiceThread

TAGS = ["Comedy", "Drama", "Horror", "Action", "NotATag", ""]
FIELDS = ["tags", "year", "item_id", "title", "colour", ""]
PROMPTS = ["", "more comedies", "no horror please", "  "]
texts = st.text(max_size=40) | st.sampled_from(["", "1", "2", "260", "more comedies", "no dramas"])


@st.composite
def conditions(draw: st.DrawFn) -> pb.FieldCondition:
    cond = pb.FieldCondition(field=draw(st.sampled_from(FIELDS)))
    kind = draw(st.sampled_from(["strings", "integers", "range", "none"]))
    if kind == "strings":
        cond.any_of_strings.values.extend(draw(st.lists(texts, max_size=3)))
    elif kind == "integers":
        cond.any_of_integers.values.extend(
            draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3))
        )
    elif kind == "range":
        bound = st.none() | st.floats(allow_nan=True, allow_infinity=True)
        gte, lte = draw(bound), draw(bound)
        if gte is not None:
            cond.range.gte = gte
        if lte is not None:
            cond.range.lte = lte
        if gte is None and lte is None:
            cond.range.SetInParent()
    return cond


@st.composite
def requests(draw: st.DrawFn) -> pb.SteerRequest:
    request = pb.SteerRequest(
        request_id=draw(texts),
        user_id=draw(st.sampled_from(["1", "2", "77", "nobody"]) | texts),
        prompt=draw(st.sampled_from(PROMPTS) | st.text(max_size=60)),
        exclude_seen=draw(st.booleans()),
        negative_mode=draw(st.integers(0, 5)),
    )
    if draw(st.booleans()):
        request.top_k = draw(st.integers(0, 300))
    if draw(st.booleans()):
        request.strength = draw(st.floats(allow_nan=True, allow_infinity=True, width=32))
    if draw(st.booleans()):
        request.history.item_ids.extend(draw(st.lists(texts, max_size=5)))
    request.must_tags.extend(draw(st.lists(st.sampled_from(TAGS), max_size=2)))
    request.must_not_tags.extend(draw(st.lists(st.sampled_from(TAGS), max_size=2)))
    request.must.extend(draw(st.lists(conditions(), max_size=2)))
    request.must_not.extend(draw(st.lists(conditions(), max_size=2)))
    request.exclude_item_ids.extend(draw(st.lists(texts, max_size=3)))
    request.payload_fields.extend(draw(st.lists(st.sampled_from([*FIELDS, "year"]), max_size=2)))
    return request


CLIENT_ERRORS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=requests())
def test_every_request_gets_a_valid_answer_or_a_clean_client_error(
    service: ServiceThread, request: pb.SteerRequest
) -> None:
    try:
        response = service.stub.Steer(request, timeout=20)
    except grpc.RpcError as exc:
        assert exc.code() in CLIENT_ERRORS, (exc.code(), exc.details())
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            assert not request.prompt.strip()
        assert exc.details().split(":")[0], exc.details()
        return
    top_k = request.top_k if request.HasField("top_k") else 10
    assert len(response.items) <= top_k
    scores = [item.score for item in response.items]
    assert scores == sorted(scores, reverse=True)
    assert response.served_path != pb.SERVED_PATH_UNSPECIFIED
    assert len({item.item_id for item in response.items}) == len(response.items)
