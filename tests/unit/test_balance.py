"""Targets and channel options for round robin over replicas."""

from __future__ import annotations

import json

import pytest

from vectorizer.balance import ROUND_ROBIN_SERVICE_CONFIG, channel_options, replicas_target
from vectorizer.client.core import client_target


def test_ip_lists_become_grpc_address_lists() -> None:
    assert replicas_target(["10.0.0.1:50051", "10.0.0.2:50051"]) == (
        "ipv4:10.0.0.1:50051,10.0.0.2:50051"
    )
    assert replicas_target(["[::1]:1", "[fd00::2]:2"]) == "ipv6:[::1]:1,[fd00::2]:2"


def test_one_name_resolves_through_dns() -> None:
    name = "vectorizer-grpc.default.svc.cluster.local:50051"
    assert replicas_target(name) == "dns:///" + name
    assert replicas_target("dns:///" + name) == "dns:///" + name
    assert replicas_target("dns://10.96.0.10/" + name) == "dns://10.96.0.10/" + name


@pytest.mark.parametrize(
    "bad",
    [[], ["replica-a:50051", "replica-b:50051"], ["10.0.0.1:50051", "[::1]:50051"],
     ["10.0.0.1"], ["10.0.0.1:port"]],
)  # fmt: skip
def test_lists_that_cannot_be_one_target(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        replicas_target(bad)


def test_round_robin_options() -> None:
    config = dict(channel_options(round_robin=True))["grpc.service_config"]
    assert json.loads(config) == {"loadBalancingConfig": [{"round_robin": {}}]}
    assert config == ROUND_ROBIN_SERVICE_CONFIG
    assert "grpc.service_config" not in dict(channel_options())


def test_client_address_forms() -> None:
    # One address: today's behaviour (pick_first) unless round robin is asked for.
    assert client_target("localhost:50051", None) == ("localhost:50051", False)
    assert client_target("svc:50051", True) == ("dns:///svc:50051", True)
    # A list: round robin over it unless switched off.
    assert client_target(["127.0.0.1:1", "127.0.0.1:2"], None) == (
        "ipv4:127.0.0.1:1,127.0.0.1:2",
        True,
    )
    assert client_target(["127.0.0.1:1"], False)[1] is False
