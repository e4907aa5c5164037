"""The steering service over real gRPC on port 0: in-process models, embedded Qdrant engine,
SQLite history, a model really trained on the bundled data."""

from __future__ import annotations

import hashlib
import logging
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dpr_plugin.grpc_api.generated.dpr.v1 import steering_pb2 as pb
from dpr_plugin.grpc_api.server import SERVICE_NAME
from dpr_plugin.serving.model_bundle import ModelBundle
from tests.service_thread import ServiceThread

USERS = [str(u) for u in range(1, 600, 23)]


def steer(service: ServiceThread, **fields: object) -> pb.SteerResponse:
    return service.stub.Steer(pb.SteerRequest(**fields), timeout=30)


def tags_of(response: pb.SteerResponse) -> list[list[str]]:
    return [list(item.payload["tags"]) for item in response.items]


def test_health_reports_serving(service: ServiceThread) -> None:
    stub = health_pb2_grpc.HealthStub(service.channel)
    for name in ("", SERVICE_NAME):
        status = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING


def test_empty_prompt_serves_the_backbone_list(service: ServiceThread) -> None:
    response = steer(service, user_id="1", top_k=10, request_id="r-1")
    assert response.request_id == "r-1"
    assert response.served_path == pb.SERVED_PATH_UNSTEERED
    assert len(response.items) == 10
    scores = [item.score for item in response.items]
    assert scores == sorted(scores, reverse=True)
    for rank, item in enumerate(response.items, start=1):
        assert item.unsteered_rank == rank and item.rank_change == 0
        assert item.unsteered_score == pytest.approx(item.score)
        assert item.payload["title"] and list(item.payload["tags"])
    assert response.model_version and response.history_length > 0
    assert response.understood.polarity == pb.POLARITY_NONE


def test_more_of_a_tag_raises_its_share_in_the_top_10(service: ServiceThread) -> None:
    before, after = [], []
    for user in USERS:
        plain = steer(service, user_id=user)
        steered = steer(service, user_id=user, prompt="show me more horror movies")
        assert steered.served_path == pb.SERVED_PATH_STEERED
        assert steered.understood.tags[0].tag == "Horror"
        assert steered.understood.polarity == pb.POLARITY_POSITIVE
        assert len(steered.understood.expert_weights) == 4
        assert sum(steered.understood.expert_weights) == pytest.approx(1.0, abs=1e-4)
        before.append(np.mean(["Horror" in t for t in tags_of(plain)]))
        after.append(np.mean(["Horror" in t for t in tags_of(steered)]))
        assert [i.item_id for i in plain.items] != [i.item_id for i in steered.items]
    assert np.mean(after) >= np.mean(before) + 0.3, (np.mean(before), np.mean(after))


def test_strength_zero_is_the_unsteered_list(service: ServiceThread) -> None:
    plain = steer(service, user_id="7")
    zero = steer(service, user_id="7", prompt="more horror", strength=0.0)
    assert [i.item_id for i in zero.items] == [i.item_id for i in plain.items]
    assert [i.score for i in zero.items] == pytest.approx([i.score for i in plain.items])


def test_no_strength_asked_serves_the_exports_default_for_the_prompt(
    service: ServiceThread, service_repository: Path
) -> None:
    default = ModelBundle.load(service_repository).default_strength
    assert default.source.startswith("validation NDCG@10 with tag_hit@10 >= 0.95")
    for prompt, mode, expected in (
        ("more horror", pb.NEGATIVE_MODE_SOFT, default.positive),
        ("no dramas", pb.NEGATIVE_MODE_SOFT, default.negative),
        ("no dramas", pb.NEGATIVE_MODE_HYBRID, default.negative_hybrid),
    ):
        unset = steer(service, user_id="7", prompt=prompt, negative_mode=mode, top_k=20)
        assert unset.understood.strength == pytest.approx(expected), prompt
        asked = steer(
            service, user_id="7", prompt=prompt, negative_mode=mode, top_k=20, strength=expected
        )
        assert asked.understood.strength == pytest.approx(expected)
        assert [i.item_id for i in unset.items] == [i.item_id for i in asked.items]
        assert [i.score for i in unset.items] == pytest.approx(
            [i.score for i in asked.items], abs=1e-4
        )
    hard = steer(service, user_id="7", prompt="no dramas", negative_mode=pb.NEGATIVE_MODE_HARD)
    assert hard.understood.strength == 0.0
    assert steer(service, user_id="7").understood.strength == 0.0
    assert (
        steer(service, user_id="7", prompt="more horror", strength=2.0).understood.strength == 2.0
    )


@pytest.mark.parametrize("mode", [pb.NEGATIVE_MODE_HARD, pb.NEGATIVE_MODE_HYBRID])
def test_hard_negative_modes_filter_what_the_prompt_bans(service: ServiceThread, mode: int) -> None:
    for user in USERS[:8]:
        response = steer(service, user_id=user, prompt="no dramas please", negative_mode=mode)
        assert response.understood.polarity == pb.POLARITY_NEGATIVE
        assert "Drama" in response.understood.hard_filtered_tags
        assert not any("Drama" in t for t in tags_of(response))


def test_hard_mode_ranks_with_the_unsteered_vector(service: ServiceThread) -> None:
    response = steer(service, user_id="3", prompt="no dramas", negative_mode=pb.NEGATIVE_MODE_HARD)
    for item in response.items:
        assert item.score == pytest.approx(item.unsteered_score, abs=1e-4)


def test_payload_filters_and_exclusions(service: ServiceThread) -> None:
    plain = steer(service, user_id="5", top_k=20)
    banned = [plain.items[0].item_id, plain.items[3].item_id]
    response = steer(
        service,
        user_id="5",
        top_k=20,
        must_tags=["Comedy"],
        must_not_tags=["Romance"],
        exclude_item_ids=banned,
        must=[pb.FieldCondition(field="year", range=pb.NumericRange(gte=1990, lte=1999))],
        payload_fields=["title", "tags", "year"],
    )
    assert len(response.items) == 20
    for item in response.items:
        tags = list(item.payload["tags"])
        assert "Comedy" in tags and "Romance" not in tags
        assert 1990 <= item.payload["year"] <= 1999
        assert item.item_id not in banned


def test_exclude_seen_removes_the_history(
    service: ServiceThread, bundled_histories: tuple[object, dict]
) -> None:
    history = set(bundled_histories[1]["9"])
    kept = steer(service, user_id="9", top_k=50)
    assert any(item.item_id in history for item in kept.items)
    response = steer(service, user_id="9", top_k=50, exclude_seen=True)
    assert not any(item.item_id in history for item in response.items)


def test_unknown_user_without_prompt_is_not_found(service: ServiceThread) -> None:
    with pytest.raises(grpc.RpcError) as info:
        steer(service, user_id="nobody-here")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert info.value.details().startswith("user_id:")


def test_unknown_user_with_prompt_is_a_flagged_cold_start(service: ServiceThread) -> None:
    response = steer(service, user_id="nobody-here", prompt="more comedies")
    assert response.served_path == pb.SERVED_PATH_COLD_START
    assert len(response.items) == 10 and response.history_length == 0


def test_inline_history_replaces_the_stored_one(service: ServiceThread) -> None:
    stored = steer(service, user_id="11")
    inline = steer(service, user_id="11", history=pb.InlineHistory(item_ids=["1", "2", "zzz"]))
    assert inline.history_length == 2 and inline.unknown_history_items == 1
    assert [i.item_id for i in inline.items] != [i.item_id for i in stored.items]


def test_append_interactions_creates_and_extends_a_history(service: ServiceThread) -> None:
    first = service.stub.AppendInteractions(
        pb.AppendInteractionsRequest(user_id="new-user", item_ids=["1", "260"]), timeout=10
    )
    assert first.history_length == 2
    response = steer(service, user_id="new-user")
    assert response.served_path == pb.SERVED_PATH_UNSTEERED and response.history_length == 2
    again = service.stub.AppendInteractions(
        pb.AppendInteractionsRequest(user_id="new-user", item_ids=["1196"]), timeout=10
    )
    assert again.history_length == 3


def test_metrics_count_requests_paths_stages_and_tags(service: ServiceThread) -> None:
    steer(service, user_id="2", prompt="more horror movies")
    url = f"http://127.0.0.1:{service.server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as page:
        text = page.read().decode()
    assert 'dpr_steer_requests_total{path="steered"}' in text
    assert 'dpr_stage_seconds_count{stage="infer"}' in text
    assert 'dpr_understood_tags_total{polarity="positive",tag="Horror"}' in text


def test_logs_never_contain_the_prompt(
    service: ServiceThread, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "more comedies for my secret anniversary xyzzy"
    with caplog.at_level(logging.DEBUG):
        steer(service, user_id="4", prompt=secret)
        with pytest.raises(grpc.RpcError):
            steer(service, user_id="4", prompt=secret, top_k=0)
    assert caplog.records, "the service logged nothing"
    assert f"prompt[len={len(secret)} hmac=" in caplog.text  # the access line, keyed digest
    assert hashlib.sha256(secret.encode()).hexdigest()[:10] not in caplog.text
    assert "xyzzy" not in caplog.text and "anniversary" not in caplog.text
