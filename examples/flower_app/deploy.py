"""Run the app against a local Flower deployment: a SuperLink and N SuperNodes on 127.0.0.1.

Starts ``flower-superlink`` and ``flower-supernode`` processes in insecure mode on free
ports, registers the SuperLink as the connection ``local-deployment`` in a private Flower
configuration (``$FLWR_HOME``, a temporary folder unless ``--flwr-home`` is given), runs
``flwr run`` on this app against it, and stops every process it started, whatever happens.

    python examples/flower_app/deploy.py                      # 20 SuperNodes, the app's config
    python examples/flower_app/deploy.py --supernodes 5 --run-config "num-server-rounds=3"

The Flower executables must be on PATH (the virtual environment's ``bin/``); the script
adds the folder of the running Python to PATH.
"""

import argparse
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
CONNECTION = "local-deployment"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flower_env(flwr_home):
    """The environment of the Flower processes: private FLWR_HOME, no telemetry, PATH."""
    env = os.environ.copy()
    env["FLWR_HOME"] = str(flwr_home)
    env["FLWR_TELEMETRY_ENABLED"] = "0"
    env["FLWR_DISABLE_UPDATE_CHECK"] = "1"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{APP_DIR}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


def _stop(process, grace=10.0):
    """Stop a process and its group (each one was started in its own session)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_healthy(port, process, log_path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"flower-superlink exited with code {process.returncode}; see {log_path}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the SuperLink did not answer on port {port} within {timeout:.0f} s")


@contextlib.contextmanager
def local_deployment(n_supernodes, flwr_home, *, startup_timeout=60.0):
    """Start a SuperLink and ``n_supernodes`` SuperNodes; yield the environment to use.

    The SuperLink runs with ``--disable-runtime-dependency-installation`` (the app uses the
    environment it runs in), SuperNode ``i`` gets ``partition-id=i
    num-partitions=n_supernodes``. Every process is stopped (its whole process group) on
    exit, and their logs are in ``flwr_home/logs``.
    """
    flwr_home = Path(flwr_home)
    logs = flwr_home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = flower_env(flwr_home)
    port = free_port()
    (flwr_home / "config.toml").write_text(
        "[superlink]\n"
        f'default = "{CONNECTION}"\n\n'
        f"[superlink.{CONNECTION}]\n"
        f'address = "127.0.0.1:{port}"\n'
        "insecure = true\n"
    )
    processes = []
    try:
        link_log = logs / "superlink.log"
        processes.append(
            subprocess.Popen(
                [
                    "flower-superlink",
                    "--insecure",
                    "--disable-runtime-dependency-installation",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                cwd=flwr_home,
                stdout=open(link_log, "w"),  # noqa: SIM115 - closed with the process
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        _wait_healthy(port, processes[0], link_log, startup_timeout)
        for i in range(n_supernodes):
            processes.append(
                subprocess.Popen(
                    [
                        "flower-supernode",
                        "--insecure",
                        "--superlink",
                        f"127.0.0.1:{port}",
                        "--port",
                        str(free_port()),
                        "--node-config",
                        f"partition-id={i} num-partitions={n_supernodes}",
                    ],
                    env=env,
                    cwd=flwr_home,
                    stdout=open(logs / f"supernode-{i}.log", "w"),  # noqa: SIM115
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        yield env
    finally:
        for process in reversed(processes):
            _stop(process)
            if process.stdout is not None:
                process.stdout.close()


def run_app(env, run_config="", timeout=600.0):
    """``flwr run`` this app on the deployment; return the finished process (output kept)."""
    command = ["flwr", "run", str(APP_DIR), CONNECTION, "--stream"]
    if run_config:
        command += ["--run-config", run_config]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise
    return process.returncode, output


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supernodes", type=int, default=20, help="number of SuperNodes")
    parser.add_argument(
        "--run-config",
        default="",
        help='overrides of the app\'s run config, e.g. "attack=\'alie\' num-server-rounds=5"',
    )
    parser.add_argument("--flwr-home", default=None, help="Flower home (default: temporary)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the run")
    args = parser.parse_args(argv)
    run_config = f"num-clients={args.supernodes} {args.run_config}".strip()
    with contextlib.ExitStack() as stack:
        home = args.flwr_home or stack.enter_context(tempfile.TemporaryDirectory())
        env = stack.enter_context(local_deployment(args.supernodes, home))
        print(f"SuperLink and {args.supernodes} SuperNodes started (FLWR_HOME={home}).")
        print("Running:", shlex.join(["flwr", "run", str(APP_DIR), CONNECTION, "--stream"]))
        code, output = run_app(env, run_config, timeout=args.timeout)
        print(output)
    return code


if __name__ == "__main__":
    sys.exit(main())
