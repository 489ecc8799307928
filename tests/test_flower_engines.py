"""The example Flower App on Flower's engines: Ray simulation and a real local deployment.

* ``flwr.simulation.run_simulation`` (Ray backend, 5 virtual nodes, 3 rounds, sign flip):
  the byzantine node is removed every round and the final model is close to (and as
  accurate as) the model of the same run without attack.
* A SuperLink and 5 SuperNodes started as subprocesses on 127.0.0.1 (insecure, free
  ports), the app run with ``flwr run`` against them: final model and kept-node records
  checked, every process stopped, every wait bounded.
"""

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import tomli

pytest.importorskip(
    "flwr", reason='the Flower extra is not installed (pip install "sklearn-robust[flower]")'
)

APP_DIR = Path(__file__).resolve().parents[1] / "examples" / "flower_app"
N_NODES = 5
ROUNDS = 3


def _config(**overrides):
    with open(APP_DIR / "pyproject.toml", "rb") as f:
        config = tomli.load(f)["tool"]["flwr"]["app"]["config"]
    return {
        **config,
        "num-clients": N_NODES,
        "num-server-rounds": ROUNDS,
        "fraction-evaluate": 0.0,
        "attack": "sign-flip",
        **overrides,
    }


@pytest.fixture
def flower_env(monkeypatch, tmp_path):
    monkeypatch.setenv("FLWR_HOME", str(tmp_path / "flwr-home"))
    monkeypatch.setenv("FLWR_TELEMETRY_ENABLED", "0")
    monkeypatch.setenv("FLWR_DISABLE_UPDATE_CHECK", "1")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", f"{APP_DIR}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.syspath_prepend(str(APP_DIR))
    return tmp_path


def _check_defended(result, n_rounds=ROUNDS):
    rounds = [r for r in result["rounds"] if "train/byzantine-nodes" in r]
    assert len(rounds) == n_rounds
    for entry in rounds:
        assert len(entry["train/byzantine-nodes"]) == 1
        assert set(entry["train/byzantine-nodes"]) <= set(entry["train/removed-nodes"])
        assert len(entry["train/kept-nodes"]) >= N_NODES - 2
    return result["final"]["accuracy"]


def _processes_with_env(entry):
    """Live process ids whose environment holds ``entry`` (Linux /proc; [] elsewhere)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if entry.encode() in environ and state != "Z":
            found.append(int(proc.name))
    return found


def _in_process(config, out):
    from robust_digits.client_app import app as client_app
    from robust_digits.server_app import app as server_app

    from sklearn_robust.integrations.flower import _run_in_process

    nodes = [{"partition-id": i, "num-partitions": N_NODES} for i in range(N_NODES)]
    _run_in_process(server_app, client_app, nodes, {**config, "output-dir": str(out)})
    return json.loads((out / "result.json").read_text()), np.load(out / "model.npz")


_SIMULATION_SCRIPT = """
import json, sys
from flwr.app import Context
from flwr.clientapp import ClientApp
from flwr.serverapp import ServerApp
from flwr.simulation import run_simulation
from robust_digits import client_app as example_client
from robust_digits import server_app as example_server

config = json.loads(sys.argv[1])
server = ServerApp()


@server.main()
def main(grid, context):
    context.run_config = dict(config)
    example_server.main(grid, context)


client = ClientApp()


@client.train()
def train(msg, context):
    context = Context(run_id=context.run_id, node_id=context.node_id,
                      node_config=context.node_config, state=context.state,
                      run_config=dict(config))
    return example_client.train(msg, context)


run_simulation(server_app=server, client_app=client, num_supernodes=int(sys.argv[2]),
               backend_config={"client_resources": {"num_cpus": 1},
                               "init_args": {"num_cpus": 2, "include_dashboard": False}})
"""


def test_run_simulation_on_ray_removes_the_attacker(flower_env):
    import subprocess

    out = flower_env / "ray"
    config = _config(**{"output-dir": str(out)})
    # run_simulation passes an empty run config: the script gives the example's own (as
    # ``flwr run`` would from the app's pyproject.toml) to both sides. It runs in its own
    # process, so that Ray and Flower leave no state behind in the test session.
    script = flower_env / "simulate.py"
    script.write_text(_SIMULATION_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), json.dumps(config), str(N_NODES)],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    accuracy = _check_defended(result)

    # The defended model is as good as the model of the same run without attack (computed
    # on the in-process grid; the byzantine nodes are drawn among node ids, which differ
    # between engines, so the two attacked runs need not remove the same partition).
    honest, honest_model = _in_process(_config(attack="none"), flower_env / "honest")
    assert accuracy >= honest["final"]["accuracy"] - 0.05
    assert accuracy > 0.8
    model = np.load(out / "model.npz")
    distance = np.sqrt(sum(((model[k] - honest_model[k]) ** 2).sum() for k in model.files))
    scale = np.sqrt(sum((honest_model[k] ** 2).sum() for k in model.files))
    assert distance < 0.2 * scale


def test_local_deployment_with_flwr_run(flower_env):
    spec = importlib.util.spec_from_file_location("flower_app_deploy", APP_DIR / "deploy.py")
    deploy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(deploy)
    assert shutil.which("flower-superlink") and shutil.which("flower-superexec")

    out = flower_env / "deployment"
    home = flower_env / "flwr-home"
    started = []
    original_popen = deploy.subprocess.Popen

    def recording_popen(*args, **kwargs):
        process = original_popen(*args, **kwargs)
        started.append(process)
        return process

    deploy.subprocess.Popen = recording_popen
    try:
        with deploy.local_deployment(N_NODES, home, startup_timeout=60) as env:
            code, output = deploy.run_app(
                env,
                f"num-clients={N_NODES} num-server-rounds=2 fraction-evaluate=0.25 "
                f"attack='sign-flip' output-dir='{out}'",
                timeout=420,
            )
    finally:
        deploy.subprocess.Popen = original_popen
    # Every process started (SuperLink, SuperNodes, flwr run) has stopped, and so has every
    # process they spawned (SuperExec, ServerApp, ClientApps): none still carries our
    # FLWR_HOME in its environment.
    assert len(started) == N_NODES + 2
    assert all(process.poll() is not None for process in started)
    assert _processes_with_env(f"FLWR_HOME={home}") == []
    assert code == 0, output[-3000:]
    result = json.loads((out / "result.json").read_text())
    accuracy = _check_defended(result, n_rounds=2)
    assert accuracy > 0.75
    # Federated evaluation ran on the SuperNodes too.
    assert "Aggregated ClientApp-side Evaluate Metrics" in output
    model = np.load(out / "model.npz")
    assert all(np.isfinite(model[key]).all() for key in model.files)
