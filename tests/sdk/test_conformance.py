"""The official obshell Python SDK (PyPI `obshell` 0.0.9) against obshell-sim, unchanged.

Each test runs for two emulated versions: 4.5.0.0 (errCode strings, 1024-bit key) and 4.2.4.0
(legacy integer codes, 512-bit key, no auth fields in /api/v1/info). The SDK polls a DAG every
3 s and sends every failed request twice, so the number of waits is kept small.
"""

import pytest

from obshell import ClientSet
from obshell.auth.password import PasswordAuth
from obshell.service.client_v1 import OBShellHandleError, TaskExecuteFailedError

from conftest import PASSWORD

URI = "file:///data/backup"
CLUSTER_ID = 1726000000


def client(sim):
    return ClientSet(sim.host, sim.port, PasswordAuth(PASSWORD)).v1


def is_new(sim):
    return sim.version == "4.5.0.0"


def test_authenticate_and_read_tenants_and_parameters(fresh):
    v1 = client(fresh)
    tenants = v1.get_all_tenants()
    assert [t.name for t in tenants] == ["sys", "t1", "t2"]
    assert tenants[1].id == 1002 and tenants[1].status == "NORMAL"
    parameter = v1.get_tenant_parameter("t1", "log_archive_concurrency")
    assert (parameter.name, parameter.value, parameter.data_type) == ("log_archive_concurrency", "0", "INT")
    names = sorted(p.name for p in v1.get_tenant_parameters("t2", "%archive%"))
    assert names == ["archive_lag_target", "log_archive_concurrency"]
    assert v1.get_tenant_info("t2").id == 1004
    assert v1.get_info().version == fresh.version
    # Every request after /info and /secret carried a valid header.
    log = fresh.requests_log()
    assert all(entry["status"] == 200 for entry in log), log
    assert any(entry["authenticated"] for entry in log)


def test_post_and_patch_backup_config_and_wait(fresh):
    v1 = client(fresh)
    dag = v1.post_cluster_backup_config_sync(
        URI, log_archive_concurrency=4, binding="optional", ha_low_thread_score=10,
        piece_switch_interval="1d", archive_lag_target="2m",
        delete_policy="default", delete_recovery_window="7d")
    assert (dag.state, dag.operator, dag.name) == ("SUCCEED", "RUN", "Set obcluster backup config")
    assert v1.get_tenant_parameter("t2", "archive_lag_target").value == "2m"
    assert v1.get_tenant_parameter("t1", "ha_low_thread_score").value == "10"

    patched = v1.patch_cluster_backup_config(log_archive_concurrency=8)
    assert patched.state == "READY" and patched.max_stage == 2
    v1.wait_dag_succeed(patched.generic_id)
    assert v1.get_tenant_parameter("t1", "log_archive_concurrency").value == "8"

    detail = v1.get_dag(patched.generic_id)
    assert [node.name for node in detail.nodes] == ["Check backup config", "Set backup config"]
    assert all(node.state == "SUCCEED" for node in detail.nodes)
    assert detail.nodes[1].sub_tasks[0].task_logs
    state = fresh.control("GET", "state")
    t1 = state["tenants"][0]
    assert t1["archive_dest"]["path"] == f"{URI}/{CLUSTER_ID}/1002/clog"
    assert t1["data_dest"] == f"{URI}/{CLUSTER_ID}/1002/data"
    # The request log saw the SDK's bodies decrypted.
    bodies = [e["body"] for e in fresh.requests_log() if e["uri"] == "/api/v1/obcluster/backup/config"]
    assert bodies[0]["backup_base_uri"] == URI and bodies[1] == {"log_archive_concurrency": 8}


def test_invalid_request_reports_the_error_code(fresh):
    v1 = client(fresh)
    with pytest.raises(OBShellHandleError) as caught:
        v1.post_cluster_backup_config(URI, binding="sometimes")
    if is_new(fresh):
        assert caught.value.err_code == "OB.Backup.Binding.Invalid"
        assert caught.value.message == "Invalid binding mode: SOMETIMES, must be OPTIONAL or MANDATORY"
    else:
        assert (caught.value.err_code, caught.value.code) == ("", 1001)
        assert caught.value.message.startswith("Illegal argument: invalid binding mode")
    # The SDK sends a failed request a second time; neither created a DAG.
    posts = [e for e in fresh.requests_log() if e["method"] == "POST"]
    assert len(posts) == 2 and all(e["status"] == 400 for e in posts)
    assert fresh.control("GET", "state")["dags"] == []


def test_failing_dag_raises_task_execute_failed_with_obshell_log_line(fresh):
    v1 = client(fresh)
    with pytest.raises(TaskExecuteFailedError) as caught:
        v1.post_cluster_backup_config_sync("file://relative/path")
    if is_new(fresh):
        line = ("ERROR: [OB.Storage.URI.Invalid]: check archive path: get archive storage interface: "
                "Invalid storage URI: invalid file path, must start with '/'")
    else:
        line = "ERROR: check archive path: get archive storage interface: invalid file path, must start with '/'"
    assert caught.value.message.strip() == f"{fresh.host}:{fresh.port} {line}"
    assert caught.value.dag.state == "FAILED"
    assert caught.value.dag.name == "Set obcluster backup config"


def test_recovers_from_a_key_rotation(fresh):
    v1 = client(fresh)
    assert v1.get_tenant_parameter("t1", "archive_lag_target").value == "120s"
    fresh.control("POST", "rotate-key")
    fresh.control("DELETE", "requests")
    assert v1.get_tenant_parameter("t1", "archive_lag_target").value == "120s"
    log = fresh.requests_log()
    assert log[0]["status"] == 401
    assert log[0]["error_code"] == "Security.Authentication.Header.DecryptFailed"
    assert any(e["uri"] == "/api/v1/secret" for e in log), "the SDK fetched the new key"
    assert log[-1]["status"] == 200


def test_expired_timestamp_is_refused(fresh):
    v1 = client(fresh)
    v1.get_all_tenants()
    # The SDK signs ts = now + 60 s; a server clock an hour ahead sees it as expired.
    fresh.control("POST", "clock", {"offset_seconds": 3600})
    with pytest.raises(OBShellHandleError) as caught:
        v1.get_all_tenants()
    if is_new(fresh):
        assert caught.value.err_code == "Security.Authentication.Expired"
    assert caught.value.code == 10008
    fresh.control("POST", "clock", {"offset_seconds": 0})
    assert len(v1.get_all_tenants()) == 3
