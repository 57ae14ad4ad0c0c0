"""The Ray engine: the local engine's rows on a local 2-CPU cluster (resuming a local job) and on a simulated
2-node cluster, and every item done when a worker is killed mid-run."""
from __future__ import annotations

import os
import signal

import pytest
from batch_media import BAD, errors, make_faces, rows, run, spec

ray = pytest.importorskip("ray", reason="tddfa batch --ray needs Ray (pip install 'tddfa[ray]')")

from tddfa.batch.ray_engine import RayEngine  # noqa: E402


@pytest.fixture
def job(media, tmp_path, monkeypatch):
    """A media folder with 12 more faces, and the local engine's rows and errors for it."""
    monkeypatch.chdir(tmp_path)
    make_faces(media / "more", 12)
    run(["photos"], tmp_path / "local")
    assert len(errors(tmp_path / "local")) == len(BAD)
    return rows(tmp_path / "local"), errors(tmp_path / "local")


def test_a_local_two_cpu_cluster_resumes_a_local_job_with_the_local_rows(job, tmp_path):
    seen = []

    def interrupt(result):
        seen.append(result)
        if len(seen) == 5:
            raise KeyboardInterrupt  # as Ctrl-C would: the job stops, its ledger holds 5 items

    cut = run(["photos"], tmp_path / "ray", on_result=interrupt)
    assert not cut.complete and cut.processed == 5
    engine = RayEngine(spec(tmp_path / "ray"), workers=2)  # starts its own cluster, and stops it
    s = run(["photos"], tmp_path / "ray", engine=engine)
    assert not ray.is_initialized()
    assert (rows(tmp_path / "ray"), errors(tmp_path / "ray")) == job
    assert s.skipped == 5 and s.failed == len(BAD) and engine.deaths == 0


def test_a_killed_worker_loses_no_item(job, tmp_path):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        engine = RayEngine(spec(tmp_path / "ray"), workers=2)
        killed = []

        def kill_one(result):
            if len(killed) == 0 and result.status == "ok":
                pid = engine.actor_pids()[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        s = run(["photos"], tmp_path / "ray", engine=engine, on_result=kill_one)
    finally:
        ray.shutdown()
    assert killed and engine.deaths >= 1 and engine.resubmitted >= 1, "the kill lost no task: nothing was tested"
    assert any("dead worker" in n for n in s.notes)
    assert (rows(tmp_path / "ray"), errors(tmp_path / "ray")) == job


def test_a_two_node_cluster_gives_the_local_rows(job, tmp_path):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        engine = RayEngine(spec(tmp_path / "ray"), address=cluster.address, threads=1)
        nodes = []
        s = run(["photos"], tmp_path / "ray", engine=engine,
                on_result=lambda r: nodes or nodes.extend(engine.actor_nodes()))
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert len(nodes) == 2 and len(set(nodes)) == 2  # one actor per node (the cluster's 2 CPUs)
    assert (rows(tmp_path / "ray"), errors(tmp_path / "ray")) == job and s.failed == len(BAD)


def test_an_address_where_no_cluster_answers_fails_at_once():
    import socket

    from tddfa.batch.ray_engine import check_reachable
    from tddfa.errors import UsageError

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UsageError, match="no Ray cluster answers there"):
        check_reachable(f"127.0.0.1:{port}")
    with pytest.raises(UsageError, match="expected auto, HOST:PORT"):
        check_reachable("somewhere")
    check_reachable("auto")  # Ray's own lookup
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        check_reachable(f"ray://127.0.0.1:{s.getsockname()[1]}")
