"""Helpers for tests that start servers and workers (tests/ is on sys.path through its conftest)."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(process: subprocess.Popen, first: signal.Signals = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop a process started in its own session and everything it started: ``first``, then SIGKILL."""
    if process.poll() is None:
        os.killpg(process.pid, first)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
