"""Whether a container shares its node's network namespace (Kubernetes ``hostNetwork: true``).

Inside such a pod, 127.0.0.1 is the node's loopback: OneAgent's local ingest
endpoint on the node is reachable and must be judged as the node's, not
waved away as "not offered in containers". The reliable signal is the
downward API: a pod on the host network has the node's address as its own,
so ``status.podIP`` equals ``status.hostIP``. The manifest passes both in
``DTDOCTOR_POD_IP`` and ``DTDOCTOR_HOST_IP``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping

POD_IP = "DTDOCTOR_POD_IP"
HOST_IP = "DTDOCTOR_HOST_IP"


@dataclass(frozen=True)
class PodNetwork:
    """What the downward API said: ``shares_host`` when the pod's address is the node's."""

    pod_ip: str
    host_ip: str

    @property
    def shares_host(self) -> bool:
        return _same_address(self.pod_ip, self.host_ip)

    def to_json(self) -> dict[str, object]:
        return {"source": f"{POD_IP} and {HOST_IP} (downward API)", "pod_ip": self.pod_ip, "host_ip": self.host_ip,
                "host_network": self.shares_host}


def _same_address(first: str, second: str) -> bool:
    try:
        return ipaddress.ip_address(first.strip()) == ipaddress.ip_address(second.strip())
    except ValueError:
        return False


def pod_network(environ: Mapping[str, str]) -> PodNetwork | None:
    """The downward API's addresses when the manifest passed both, else None (nothing is known)."""
    pod_ip, host_ip = environ.get(POD_IP, "").strip(), environ.get(HOST_IP, "").strip()
    if not pod_ip or not host_ip:
        return None
    return PodNetwork(pod_ip, host_ip)
