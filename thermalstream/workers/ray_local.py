"""A Ray cluster on this one machine with every address on 127.0.0.1 (``ray.cluster_utils.Cluster``),
for tests and benchmarks. A lab's real cluster is started with ``ray start`` (docs/cluster.md).

>>> with loopback_patches():
...     cluster, nodes = start_cluster({"far_node": 1})   # a head and one more node
...     connect(cluster, nodes)                             # this process is the driver
...     ...
...     stop_cluster(cluster)

Two facts of Ray 2.60 on a test machine. (1) It resolves 127.0.0.1 in an address to the machine's
own address, where a loopback cluster does not listen: ENABLE_RAY_CLUSTER off keeps every address
on loopback. (2) A raylet waits at most 15 s for its dashboard agent to write its port to a file,
and on a busy machine the agent takes longer to start, so the raylet aborts: telling the raylet
the (fixed) port skips that wait.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Iterator
from typing import Any

from thermalstream.workers.ray_backend import NAMESPACE

READY_TIMEOUT_S = 180.0  # a busy machine starts Python workers slowly


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_args(**extra: Any) -> dict[str, Any]:
    """A node on loopback with fixed agent ports, one CPU and a small object store."""
    return {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * 2**20,
            "metrics_agent_port": free_port(), "metrics_export_port": free_port(),
            "dashboard_agent_listen_port": free_port(), "runtime_env_agent_port": free_port(), **extra}


@contextlib.contextmanager
def loopback_patches() -> Iterator[None]:
    """Keep Ray on 127.0.0.1 and patient with slow dashboard agents (see above) while inside."""
    import ray._private.ray_constants as constants
    from ray._private import services

    env_was = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    cluster_was, start = constants.ENABLE_RAY_CLUSTER, services.start_ray_process

    def start_ray_process(command, process_type, *args, **kwargs):
        found = re.search(r"--listen-port=(\d+)", " ".join(command)) if process_type == "raylet" else None
        if found:
            command = [*command, f"--dashboard_agent_listen_port={found.group(1)}"]
        return start(command, process_type, *args, **kwargs)

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    constants.ENABLE_RAY_CLUSTER = False
    services.start_ray_process = start_ray_process
    try:
        yield
    finally:
        services.start_ray_process = start
        constants.ENABLE_RAY_CLUSTER = cluster_was
        if env_was is None:
            os.environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        else:
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = env_was


def start_cluster(*resources: dict[str, float], quick_death: bool = True) -> tuple[Any, list[Any]]:
    """A head node and one more node per ``resources`` dict (inside :func:`loopback_patches`).
    ``quick_death``: a node that misses health checks for 2 s is dead (tests that remove one);
    else Ray's defaults, kinder to a saturated machine. Returns (cluster, [the nodes after the head])."""
    from ray.cluster_utils import Cluster

    config: dict[str, Any] = {"worker_register_timeout_seconds": int(READY_TIMEOUT_S)}
    if quick_death:
        config.update(health_check_period_ms=500, health_check_failure_threshold=4)
    c = Cluster()
    try:
        c.add_node(**node_args(include_dashboard=False, _system_config=config))
        nodes = [c.add_node(**node_args(resources=r)) for r in resources]
        c.wait_for_nodes(60)
    except BaseException:
        c.shutdown()
        raise
    return c, nodes


def connect(c: Any, nodes: list[Any]) -> None:
    """Make this process the cluster's driver, and wait until every node has run a task
    (placement needs each node ready to start workers, slow on a busy machine)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    ray.init(address=c.address, _node_ip_address="127.0.0.1", namespace=NAMESPACE, log_to_driver=False)
    probe = ray.remote(num_cpus=0)(lambda: ray.get_runtime_context().get_node_id())
    ids = [c.head_node.node_id, *(n.node_id for n in nodes)]
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote() for n in ids]
    got = ray.get(refs, timeout=READY_TIMEOUT_S)
    if got != ids:
        raise RuntimeError(f"probe tasks ran on {got}, not on each node {ids}")


def stop_cluster(c: Any) -> None:
    import ray

    ray.shutdown()
    c.shutdown()
