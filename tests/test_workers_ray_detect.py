"""The shared detector of the Ray backend (THERMALSTREAM_RAY_DETECTORS=2) on a real two-node Ray
cluster on this machine (every address on 127.0.0.1), a served app on PostgreSQL and the hotspot
detector: cameras on both nodes get their detections stored while only the detector actors load a
detector (each worker runs the pool's proxy), and a killed detector actor is restarted by Ray and
serves its cameras again.

Skipped only when the ray extra is not installed or Ray cannot start a cluster here (said in full).
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import start_server, stop_server, wait_for
from tests.test_workers_ray import cluster  # noqa: F401 - the two-node loopback cluster fixture
from thermalstream.workers.ray_detect import actor_options, pool_status

pytestmark = [pytest.mark.slow, pytest.mark.ray]
SIM = "sim://?people=1&vehicle=0&animal=0&width=320&height=256&fps=10&seed={seed}"
READY = {"status": {"state": "ready", "backend": "", "model": "hotspot", "message": ""}}


def test_pool_status_says_what_the_actors_said():
    assert pool_status([READY, READY]).state == "ready" and pool_status([READY, READY]).message == ""
    part = pool_status([READY, "actor 2: ActorDiedError"])
    assert part.state == "ready" and part.backend == "ray pool 1/2" and "actor 2: ActorDiedError" in part.message
    weights = {"status": {"state": "unavailable", "backend": "", "model": "w.pt", "message": "weights not found"}}
    assert (pool_status([weights, weights]).state, pool_status([weights]).message) == ("unavailable",
                                                                                         "weights not found")
    none = pool_status(["actor 1: GetTimeoutError"])
    assert none.state == "loading" and "GetTimeoutError" in none.message
    assert actor_options(2, 0.0)["num_cpus"] == 1 and "num_gpus" not in actor_options(2, 0.0)
    assert actor_options(2, 1.0)["num_gpus"] == 0.5 and actor_options(1, 4.0)["num_gpus"] == 1.0


def _server_on_both_nodes(c, far, tmp_path):
    """A served app whose two pool workers sit on the two nodes (soft node affinity, which Ray honours
    since the workers ask for a resource: ray_backend.ACTOR_OPTIONS)."""
    import ray

    from tests.db_fixtures import _pg_schema_url

    # the actors of an earlier module are killed asynchronously: until their CPUs are free again the
    # detector actors (one CPU each) would wait for them
    wait_for(lambda: ray.available_resources().get("CPU", 0) >= ray.cluster_resources().get("CPU", 0), 60,
             what="every CPU of the cluster free")
    schema = _pg_schema_url()
    srv = start_server(tmp_path / "app", workers="ray", ray_address=c.address, ray_workers=2,
                       ray_detectors=2, database_url=next(schema), hotspot_threshold_c=26.0)
    try:
        backend = srv.runtime.workers.backend
        assert backend.wait_ready(90), str(backend.health())
        assert {w["node"] for w in backend.health()["workers"]} == {c.head_node.node_id, far.node_id}, \
            f"a pool worker on each node: {backend.health()}"
    except BaseException:
        stop_server(srv)
        schema.close()
        raise
    return srv, schema


def _detections(srv, cid: int) -> int:
    return srv.request("GET", f"/api/detections?camera={cid}&limit=1")[1]["total"]


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_detector_actors_serve_cameras_on_both_nodes_and_come_back(cluster, tmp_path):  # noqa: F811
    import ray

    c, far = cluster
    started = time.monotonic()
    srv, schema = _server_on_both_nodes(c, far, tmp_path)
    backend = srv.runtime.workers.backend
    try:
        ids = [srv.runtime.cameras.connect(SIM.format(seed=i), f"cam {i}")["id"] for i in range(2)]
        wait_for(lambda: all(srv.camera(cid)["status"] == "live" for cid in ids), 60, what="both cameras live")
        nodes = {w["node"] for w in backend.health()["workers"] if w["cameras"]}
        assert nodes == {c.head_node.node_id, far.node_id}, f"a camera on each node: {backend.health()}"
        for cid in ids:
            assert srv.request("PATCH", f"/api/cameras/{cid}/detection", {"enabled": True})[0] == 200
        for cid in ids:
            wait_for(lambda cid=cid: _detections(srv, cid) > 0, 60, what=f"detections of camera {cid} stored")

        # only the detector actors hold a detector; each worker runs the pool's proxy
        kinds = ray.get([a.handle.describe.remote() for a in backend._actors.values()], timeout=30)
        assert {k["detector"] for k in kinds} == {"PooledDetector"}, kinds
        infos = ray.get([h.info.remote() for h in backend._detectors], timeout=30)
        assert all(i["loaded"] for i in infos) and {cid for i in infos for cid in i["frames"]} == set(ids), infos
        for cid in ids:
            body = srv.request("GET", f"/api/cameras/{cid}/detection")[1]
            assert body["detector"]["state"] == "ready" and body["detector"]["backend"].startswith("ray pool"), body

        # a detector actor killed: Ray restarts it, and its camera's detections resume through it
        cid = ids[0]
        home = cid % len(backend._detectors)  # PooledDetector._home: a camera always goes to this actor
        victim = backend._detectors[home]
        pid = infos[home]["pid"]
        before = _detections(srv, cid)
        ray.kill(victim, no_restart=False)

        def served_again():
            try:
                info = ray.get(victim.info.remote(), timeout=5)
            except Exception:  # noqa: BLE001 - still restarting
                return None
            return info if info["restarted"] and info["pid"] != pid and info["frames"].get(cid, 0) > 0 else None

        info = wait_for(served_again, 60, interval=0.5, what="the killed detector actor restarted and serving")
        assert info["loaded"]
        wait_for(lambda: _detections(srv, cid) > before, 60, what="detections of its camera resumed")
        wait_for(lambda: srv.request("GET", f"/api/cameras/{cid}/detection")[1]["detector"]["state"] == "ready",
                 30, what="the camera's detector ready again")
        elapsed = time.monotonic() - started
        print(f"shared detector test took {elapsed:.1f} s")
        assert elapsed < 120, f"the test must stay bounded: {elapsed:.1f} s"
    finally:
        stop_server(srv)
        schema.close()
