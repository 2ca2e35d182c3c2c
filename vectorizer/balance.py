"""Client-side load balancing over replicas: the gRPC target and channel options.

One HTTP/2 connection carries all of a channel's calls, so a client behind
an L4 balancer (a Kubernetes ClusterIP Service) sends everything to one
replica. gRPC's `round_robin` policy instead opens a subchannel to every
address the target resolves to and sends calls to them in turn.

- `replicas_target(replicas)`: a list of `IP:port` -> `ipv4:...` / `ipv6:...`;
  one name -> `dns:///name:port` (a headless Service resolves to every pod).
- `channel_options(round_robin)`: message size, and the round_robin service config.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import Any

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# gRPC's service config: a subchannel per resolved address, calls in turn.
# Our own config wins over one a DNS TXT record might carry.
ROUND_ROBIN_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


def _ip_family(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host.strip("[]")).version
    except ValueError:
        return None


def replicas_target(replicas: str | Sequence[str]) -> str:
    """The gRPC target that names every replica.

    - several `host:port` whose hosts are IP addresses of one family:
      `ipv4:10.0.0.1:50051,10.0.0.2:50051` (or `ipv6:[...]:port,...`), gRPC's
      fixed address lists;
    - one `host:port` (or a target already starting with `dns:`): `dns:///host:port`,
      every address the name resolves to, looked up again when a connection
      closes (the server's --max-connection-age makes that happen regularly).

    Raises ValueError for host names in a list (give one DNS name instead) or
    IPv4 and IPv6 mixed.
    """
    if isinstance(replicas, str):
        if replicas.startswith("dns:"):
            return replicas
        return "dns:///" + replicas
    items = list(replicas)
    if not items:
        raise ValueError("no replica addresses given")
    families = set()
    for item in items:
        host, sep, port = item.rpartition(":")
        family = _ip_family(host) if sep and port.isdigit() else None
        if family is None:
            raise ValueError(
                f"{item!r}: a list of replicas takes IP:port items; for host names give one "
                "DNS name that resolves to every replica (a headless Service)"
            )
        families.add(family)
    if len(families) > 1:
        raise ValueError("IPv4 and IPv6 replicas cannot share one target list")
    return f"ipv{families.pop()}:" + ",".join(items)


def channel_options(round_robin: bool = False) -> list[tuple[str, Any]]:
    """The options of the client's channels; with `round_robin`, calls go to
    every resolved address in turn instead of all to the first one."""
    options: list[tuple[str, Any]] = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    if round_robin:
        options += [
            ("grpc.service_config", ROUND_ROBIN_SERVICE_CONFIG),
            ("grpc.service_config_disable_resolution", 1),
        ]
    return options
