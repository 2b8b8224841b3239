"""The demo workflow runs on a real SLURM cluster through snakemake-executor-plugin-slurm.

A private single-node cluster (munged, slurmctld, slurmd from Debian's slurm-wlm/munge) is
started on localhost with its own key, socket, ports and state directories in a temporary
folder, so it cannot disturb (or be disturbed by) any other SLURM or munge on the machine.
Without an accounting database `sacct` cannot answer, so the profile makes the plugin poll
`squeue` (MinJobAge keeps finished jobs visible long enough).

The daemons are stopped by the PIDs this module started, also when a test fails.
Missing packages are installed with apt-get (root only); the module is skipped, with the
reason, only where SLURM cannot be installed.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_workflow

VENV_BIN = Path(sys.executable).parent
SBIN = Path("/usr/sbin")
APT_PACKAGES = ["slurm-wlm", "munge"]
NEEDED = {
    "sbatch": "slurm-client",
    "squeue": "slurm-client",
    "scontrol": "slurm-client",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "munged": "munge",
    "mungekey": "munge",
}
# Workflow files a run needs; copied so the test never writes into the checkout.
# Status polling: the profile's 40 s first check suits a real cluster; the test shortens it.
FAST_POLL = ["--slurm-init-seconds-before-status-checks", "3"]
# The demo's sheets, truth and panel at reduced depth (the full demo, 350k pairs per sample,
# takes ~10 min on 2 cores): every stage still runs, and equality local vs SLURM is exact.
TEST_FRAGMENTS = 20000


def _which(name: str) -> str | None:
    return shutil.which(name) or (str(SBIN / name) if (SBIN / name).exists() else None)


def _missing_tools() -> list[str]:
    return [name for name in NEEDED if _which(name) is None]


def _apt_install(packages: list[str], attempts: int = 30) -> str | None:
    """Install Debian packages, waiting for another apt/dpkg holder; return an error or None."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    last = ""
    for _ in range(attempts):
        update = subprocess.run(
            ["apt-get", "update", "-qq"], env=env, capture_output=True, text=True
        )
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode == 0:
            return None
        last = (update.stderr + proc.stderr).strip()
        if "lock" not in last.lower():
            break
        time.sleep(10)
    return last[-500:]


def ensure_slurm() -> str | None:
    """Make SLURM + munge available; return why they cannot be, or None when they are."""
    if not _missing_tools():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return (
            f"SLURM tools missing ({', '.join(_missing_tools())}) and cannot install "
            "(needs root and apt-get): apt-get install slurm-wlm munge"
        )
    error = _apt_install(APT_PACKAGES)
    if error or _missing_tools():
        return f"apt-get install {' '.join(APT_PACKAGES)} failed: {error}"
    return None


def ensure_plugin() -> None:
    """Install snakemake-executor-plugin-slurm into this interpreter's environment if absent."""
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "snakemake-executor-plugin-slurm>=1"],
            check=True,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mem_mb() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


class LocalSlurm:
    """A throwaway one-node SLURM cluster on localhost, configured entirely inside `root`."""

    def __init__(self, root: Path):
        self.root = root
        self.node = socket.gethostname().split(".")[0]
        self.procs: dict[str, subprocess.Popen] = {}
        self.conf = root / "slurm.conf"
        self.sock = root / "munge" / "munge.sock"
        # Hard-coded resources would make slurmd refuse to register on another machine.
        self.cpus = os.cpu_count() or 1
        self.mem_mb = int(_mem_mb() * 0.9)

    @property
    def env(self) -> dict[str, str]:
        """Environment for clients (sbatch/squeue/snakemake): points them at this cluster."""
        path = f"{self.root / 'bin'}:{VENV_BIN}:{os.environ.get('PATH', '')}:{SBIN}"
        return dict(os.environ, SLURM_CONF=str(self.conf), PATH=path)

    def write_config(self) -> None:
        for sub in ("state", "spool", "log", "munge", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # The jobstep plugin strips SLURM_* (SLURM_CONF included) before its nested `srun`, so
        # inside a job srun would look for /etc/slurm/slurm.conf. A real cluster has that file
        # (or configless slurmd); this private cluster must not touch /etc, so jobs find an
        # `srun` on PATH that re-points it at our config.
        shim = self.root / "bin" / "srun"
        shim.write_text(
            f'#!/bin/sh\nSLURM_CONF="{self.conf}" exec {shutil.which("srun") or "srun"} "$@"\n'
        )
        shim.chmod(0o755)
        (self.root / "munge").chmod(0o711)
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=resistcalltest",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.sock}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "MpiDefault=none",
                    "SchedulerType=sched/backfill",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "JobCompType=jobcomp/none",
                    # Finished jobs stay visible to squeue for 10 min: the plugin needs that.
                    "MinJobAge=600",
                    "ReturnToService=2",
                    "SlurmctldTimeout=30",
                    "SlurmdTimeout=60",
                    f"StateSaveLocation={self.root / 'state'}",
                    f"SlurmdSpoolDir={self.root / 'spool'}",
                    f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={self.root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={self.root / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={self.root / 'log' / 'slurmd.log'}",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} "
                    f"RealMemory={self.mem_mb} State=UNKNOWN",
                    "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = open(self.root / "log" / f"{name}.out", "w")  # noqa: SIM115 (closed by the child)
        self.procs[name] = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        out.close()

    def start(self, timeout: float = 60) -> None:
        self.write_config()
        key = self.root / "munge" / "munge.key"
        subprocess.run([_which("mungekey"), "-c", "-b", "1024", "-k", str(key)], check=True)
        key.chmod(0o600)
        munge_dir = self.root / "munge"
        self._spawn(
            "munged",
            [
                _which("munged"),
                "-F",
                "-f",
                f"--socket={self.sock}",
                f"--key-file={key}",
                f"--pid-file={munge_dir / 'munged.pid'}",
                f"--log-file={munge_dir / 'munged.log'}",
                f"--seed-file={munge_dir / 'munged.seed'}",
            ],
        )
        self._wait(lambda: self.sock.exists(), timeout, "munged socket")
        conf = str(self.conf)
        self._spawn("slurmctld", [_which("slurmctld"), "-D", "-c", "-i", "-f", conf])
        self._wait(self._controller_up, timeout, "slurmctld")
        self._spawn("slurmd", [_which("slurmd"), "-D", "-f", conf, "-N", self.node])
        self._wait(self._node_idle, timeout, "slurmd node to become idle")

    def _alive_or_raise(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.logs()}")

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._alive_or_raise()
            if ready():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}:\n{self.logs()}")

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=30)

    def _controller_up(self) -> bool:
        return self._run([_which("scontrol"), "ping"]).stdout.count("UP") > 0

    def _node_idle(self) -> bool:
        out = self._run([_which("sinfo") or "sinfo", "-h", "-N", "-o", "%t"]).stdout.split()
        return bool(out) and all(state.startswith("idle") for state in out)

    def logs(self) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Cancel leftover jobs, then stop exactly the daemons started here (by PID)."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self._run([_which("scancel") or "scancel", "--user", str(os.getuid())])
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    reason = ensure_slurm()
    if reason:
        pytest.skip(reason)
    ensure_plugin()
    root = tmp_path_factory.mktemp("slurm")
    root.chmod(0o711)
    cluster = LocalSlurm(root)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def snakemake(workdir: Path, args: list[str], env: dict[str, str], timeout: float):
    cmd = [str(VENV_BIN / "snakemake"), *args]
    proc = subprocess.run(
        cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    return proc


# ---------------------------------------------------------------------------------------------
# Retries and failure reporting, on a tiny workflow (fast; also runs without the demo).

FAILING_SNAKEFILE = """
rule all:
    input: "done.txt"

rule boom:
    output: "done.txt"
    log: "logs/boom/demo.log"
    resources: mem_mb=100, runtime=2
    shell:
        "echo attempt >> attempts.txt; "
        "echo 'boom: deliberate failure for the retry test' > {log}; exit 3"
"""


def _failing_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True)
    (dest / "Snakefile").write_text(FAILING_SNAKEFILE)
    shutil.copytree(REPO / "profiles", dest / "profiles")
    return dest


def _profile_retries(profile: str) -> int:
    return int(yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())["retries"])


def _assert_retried_and_reported(proc, workdir: Path, profile: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    attempts = (workdir / "attempts.txt").read_text().split()
    assert len(attempts) == _profile_retries(profile) + 1, text
    assert "logs/boom/demo.log" in text, text
    # show-failed-logs: the log's content is printed too, not just its path.
    assert "deliberate failure for the retry test" in text, text
    assert not (workdir / "done.txt").exists()


def test_failed_job_retried_then_reported_locally(tmp_path):
    workdir = _failing_workflow(tmp_path / "local")
    proc = snakemake(
        workdir, ["--cores", "1", "--workflow-profile", "profiles/default"], os.environ.copy(), 120
    )
    _assert_retried_and_reported(proc, workdir, "default")


@pytest.mark.slurm
@pytest.mark.slow
def test_failed_job_retried_then_reported_on_slurm(slurm, tmp_path):
    workdir = _failing_workflow(tmp_path / "slurmfail")
    proc = snakemake(
        workdir,
        ["--workflow-profile", "profiles/slurm", "--cores", str(slurm.cpus), *FAST_POLL],
        slurm.env,
        300,
    )
    _assert_retried_and_reported(proc, workdir, "slurm")
    # The plugin keeps the SLURM log of a failed job and names it.
    assert ".snakemake/slurm_logs/rule_boom" in proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------
# The demo: SLURM results equal local results.


def _vcf_records(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return [line.rstrip("\n") for line in handle if not line.startswith("#")]


def _table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _demo_ready() -> str | None:
    if not (REPO / "workflow" / "Snakefile").exists():
        return "workflow Snakefile not present"
    return None


@pytest.fixture(scope="module")
def demo_runs(slurm, tmp_path_factory):
    """Run the demo locally and on SLURM (concurrently: SLURM mostly waits on polling)."""
    reason = _demo_ready()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("demo")
    local = copy_workflow(base / "local")
    on_slurm = copy_workflow(base / "slurm")
    config = local / "config" / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["simulate"]["fragments"] = TEST_FRAGMENTS
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    shutil.copy2(config, on_slurm / "config" / "config.yaml")
    sim = subprocess.run(
        [str(VENV_BIN / "resistcall"), "simulate", "--config", "config/config.yaml"],
        cwd=local,
        capture_output=True,
        text=True,
        env=slurm.env,
    )
    assert sim.returncode == 0, sim.stderr
    shutil.copytree(local / "demo_data", on_slurm / "demo_data")
    # --cores: no group job may ask for more CPUs than the single node has.
    slurm_cmd = [
        str(VENV_BIN / "snakemake"),
        "--workflow-profile",
        "profiles/slurm",
        "--cores",
        str(slurm.cpus),
        *FAST_POLL,
    ]
    slurm_proc = subprocess.Popen(
        slurm_cmd,
        cwd=on_slurm,
        env=slurm.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        local_proc = snakemake(
            local, ["--cores", "1", "--workflow-profile", "profiles/default"], slurm.env, 600
        )
        slurm_out, _ = slurm_proc.communicate(timeout=600)
    finally:
        if slurm_proc.poll() is None:
            slurm_proc.kill()
            slurm_proc.wait()
    assert local_proc.returncode == 0, local_proc.stdout[-3000:] + local_proc.stderr[-5000:]
    assert slurm_proc.returncode == 0, slurm_out[-8000:] + "\n" + slurm.logs()
    return local, on_slurm, slurm_out


@pytest.mark.slurm
@pytest.mark.slow
def test_demo_on_slurm_matches_local(demo_runs):
    local, on_slurm, log = demo_runs
    # Jobs really went through sbatch, not a local fallback.
    assert "Job " in log and "has been submitted with SLURM jobid" in log, log[-3000:]
    lines = sorted(p.name for p in (local / "results").iterdir() if (p / "hits.tsv").exists())
    assert lines, "local run produced no per-line results"
    for line in lines:
        a, b = local / "results" / line, on_slurm / "results" / line
        assert _vcf_records(a / "snv.vcf.gz") == _vcf_records(b / "snv.vcf.gz")
        for name in ("cnv.tsv", "hits.tsv"):
            pd.testing.assert_frame_equal(_table(a / name), _table(b / name))
    assert (on_slurm / "results" / "index.html").exists()


@pytest.mark.slurm
@pytest.mark.slow
def test_demo_on_slurm_writes_rule_logs_and_benchmarks(demo_runs):
    _, on_slurm, _ = demo_runs
    bwa_logs = list((on_slurm / "logs" / "bwa_mem").glob("*.log"))
    assert bwa_logs, "no per-sample bwa_mem logs under logs/"
    bench = list((on_slurm / "benchmarks" / "bwa_mem").glob("*.tsv"))
    assert bench and "max_rss" in bench[0].read_text().splitlines()[0]


# ---------------------------------------------------------------------------------------------
# Resource contract (fast, no SLURM): what a cluster submission is built from.


def _rules_text() -> str:
    return "\n".join(p.read_text() for p in sorted((REPO / "workflow" / "rules").glob("*.smk")))


def test_resources_config_valid_and_names_match_rules():
    from snakemake.utils import validate

    schema = REPO / "workflow" / "schemas" / "resources.schema.yaml"
    config = yaml.safe_load((REPO / "config" / "resources.yaml").read_text())
    validate(config, str(schema))
    allowed = set(
        yaml.safe_load(schema.read_text())["properties"]["rules"]["propertyNames"]["enum"]
    )
    used = set(re.findall(r'res\("([a-z_]+)"', _rules_text()))
    # Every name the rules look up can be tuned, and every tunable name is looked up.
    assert used == allowed
    assert set(config["rules"]) <= used


def test_resources_schema_rejects_typos_and_bad_values():
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = str(REPO / "workflow" / "schemas" / "resources.schema.yaml")
    default = {"threads": 1, "mem_mb": 2000, "runtime": 20}
    validate({"default": default, "rules": {"bwa_mem": {"threads": 4}}}, schema)
    for bad in (
        {"default": default, "rules": {"bwa-mem": {"threads": 2}}},  # misspelt rule
        {"default": default, "rules": {"bwa_mem": {"mem": 2000}}},  # unknown key
        {"default": default, "rules": {"bwa_mem": {"threads": 0}}},
        {"default": {"threads": 1, "mem_mb": 2000}},  # incomplete default
        {"rules": {"bwa_mem": {"threads": 2}}},
    ):
        with pytest.raises(WorkflowError):
            validate(bad, schema)


def test_every_rule_declares_resources_log_and_benchmark():
    text = _rules_text()
    blocks = re.split(r"\n\s*(?=rule \w+:)", text)
    rules = [b for b in blocks if re.match(r"rule \w+:", b.strip())]
    assert rules
    for block in rules:
        name = re.match(r"rule (\w+):", block.strip()).group(1)
        for key in ("threads:", "mem_mb=", "runtime=", "log:", "benchmark:", "conda:"):
            assert key in block, f"rule {name} lacks {key}"


def _common_helpers(names: tuple[str, ...], **env) -> dict:
    """The named helper functions of workflow/rules/common.smk, run with ``env`` as globals."""
    text = (REPO / "workflow" / "rules" / "common.smk").read_text()
    scope = dict(env)
    for name in names:
        source = re.search(rf"^def {name}\(.*?(?=^\S)", text, re.S | re.M)
        assert source, f"common.smk has no {name}()"
        exec(source.group(0), scope)
    return scope


def test_runtime_grows_with_the_attempt_like_memory():
    """A job killed for its time limit (SLURM TIMEOUT) must not be resubmitted with the limit it
    just hit: every rule's runtime, like its mem_mb, is a function of the attempt."""
    text = _rules_text()
    blocks = [b for b in re.split(r"\n\s*(?=rule \w+:)", text) if re.match(r"rule \w+:", b.strip())]
    for block in blocks:
        name = re.match(r"rule (\w+):", block.strip()).group(1)
        assert re.search(r"runtime=(scaled_runtime|genome_runtime)\(", block), name
    limits = {"snv": 60, "bwa_index": 10}
    helpers = _common_helpers(
        ("scaled_runtime", "genome_runtime"),
        res=lambda rule, key: limits[rule],
        GENOME_BP=3_100_000_000,
    )
    runtime = helpers["scaled_runtime"]("snv")
    assert [runtime(None, attempt) for attempt in (1, 2, 3)] == [60, 120, 180]
    whole_genome = helpers["genome_runtime"]("bwa_index", 20)
    assert [whole_genome(None, attempt) for attempt in (1, 2)] == [72, 144]
