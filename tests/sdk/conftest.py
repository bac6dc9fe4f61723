"""Fixtures for the SDK conformance test: an obshell-sim process per emulated version."""

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "target" / "debug" / "obshell-sim"
PASSWORD = "conformance-root-pw"


class Sim:
    """A running obshell-sim: its address and its control API."""

    def __init__(self, process, base_url, version):
        self.process = process
        self.base_url = base_url
        self.version = version
        host_port = base_url.removeprefix("http://")
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)

    def control(self, method, path, body=None):
        response = requests.request(method, f"{self.base_url}/sim/v1/{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def requests_log(self):
        return self.control("GET", "requests")


@pytest.fixture(scope="module", params=["4.5.0.0", "4.2.4.0"])
def sim(request):
    if not SIM.exists():
        pytest.fail(f"{SIM} is missing: run `cargo build -p obshell-sim` (make does)")
    process = subprocess.Popen(
        [str(SIM), "--listen", "127.0.0.1:0", "--password", PASSWORD,
         "--obshell-version", request.param, "--task-duration", "20ms", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    first = process.stdout.readline().strip()
    prefix = "obshell-sim listening on "
    assert first.startswith(prefix), f"unexpected first line {first!r}"
    running = Sim(process, first.removeprefix(prefix), request.param)
    yield running
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0, "obshell-sim did not exit cleanly on SIGTERM"


@pytest.fixture
def fresh(sim):
    """The module's simulator, reset to its command-line state before each test."""
    sim.control("POST", "reset")
    return sim
