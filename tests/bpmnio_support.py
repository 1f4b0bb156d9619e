"""The bpmn.io packages the model checks run under node (tests/bpmnio), installed once per checkout.

Two test files need them and may run at the same time on two xdist workers; `npm ci` empties node_modules
first, so the install is done under a file lock and only when the packages are missing."""

from __future__ import annotations

import fcntl
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BPMNIO = ROOT / "tests" / "bpmnio"


def ensure_node_modules() -> None:
    with open(BPMNIO / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (BPMNIO / "node_modules" / ".package-lock.json").is_file():
            return
        npm = subprocess.run(
            ["npm", "ci", "--prefix", "tests/bpmnio", "--no-audit", "--no-fund"],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert npm.returncode == 0, f"npm ci failed:\n{npm.stdout}\n{npm.stderr}"
