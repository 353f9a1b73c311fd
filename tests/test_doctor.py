"""`python -m trm_lib doctor`: versions, threads and the lesson estimates, without timing anything."""
import importlib.metadata

import pytest

from trm_lib.course import doctor
from trm_lib.cli import main


def test_lesson_minutes_are_the_lessons_iterations_at_the_measured_speed():
    seconds = {"sudoku4-cpu": 0.05, "sudoku6-cpu": 0.1, "maze-small-cpu": 0.2}
    minutes = doctor.lesson_minutes(seconds)
    assert minutes["06 Sudoku end to end"] == pytest.approx(doctor.OVERHEAD * 1000 * 0.1 / 60)
    assert minutes["07 mazes end to end"] == pytest.approx(doctor.OVERHEAD * 1000 * 0.2 / 60)
    slower = doctor.lesson_minutes({k: 2 * v for k, v in seconds.items()})
    assert all(slower[k] == pytest.approx(2 * m) for k, m in minutes.items())


def test_a_missing_requirement_is_marked_with_the_fix(monkeypatch):
    real = importlib.metadata.version

    def version(name):
        if name == "nbval":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    found = {f.text.split()[0].rstrip(":"): f for f in doctor.versions()}
    assert not found["nbval"].ok and "pip install -r requirements.txt" in found["nbval"].text
    assert found["torch"].ok


def test_spinning_threads_on_a_busy_machine_get_the_fix(monkeypatch):
    monkeypatch.setattr(doctor.torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(doctor.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(doctor.os, "getloadavg", lambda: (1.9, 1.9, 1.9))
    monkeypatch.setattr(doctor, "wait_policy", lambda: "ACTIVE")
    (finding,) = doctor.threads()
    assert not finding.ok and "OMP_WAIT_POLICY=PASSIVE" in finding.text and "2 threads" in finding.text
    monkeypatch.setattr(doctor, "wait_policy", lambda: "PASSIVE")
    (finding,) = doctor.threads()
    assert finding.ok and "wait passively" in finding.text  # passive waiting copes with the load


def test_importing_trm_lib_before_torch_makes_its_threads_wait_passively():
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"}
    code = "import trm_lib, os; print(os.environ['OMP_WAIT_POLICY'], trm_lib.OMP_WAIT_POLICY_AT_TORCH_LOAD)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["PASSIVE", "PASSIVE"]
    late = subprocess.run([sys.executable, "-c", "import torch; " + code], env=env, capture_output=True,
                          text=True, check=True)
    assert late.stdout.split() == ["PASSIVE", "None"]  # too late for torch: the doctor says so
    chosen = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
                            capture_output=True, text=True, check=True)
    assert chosen.stdout.split() == ["ACTIVE", "ACTIVE"]  # a policy the user chose is kept


def test_one_thread_on_a_free_machine_is_fine_and_singular(monkeypatch):
    monkeypatch.setattr(doctor.torch, "get_num_threads", lambda: 1)
    monkeypatch.setattr(doctor.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(doctor.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    (finding,) = doctor.threads()
    assert finding.ok and "uses 1 thread " in finding.text and "busy" not in finding.text


def test_passive_threads_on_a_quiet_machine_are_told_spinning_is_faster_for_a_long_run(monkeypatch):
    monkeypatch.setattr(doctor.torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(doctor.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(doctor, "wait_policy", lambda: "PASSIVE")
    monkeypatch.setattr(doctor.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    (finding,) = doctor.threads()
    assert finding.ok and "OMP_WAIT_POLICY=ACTIVE" in finding.text and "10x slower" in finding.text
    monkeypatch.setattr(doctor.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # one core taken
    (finding,) = doctor.threads()
    assert "ACTIVE" not in finding.text
    monkeypatch.setattr(doctor, "wait_policy", lambda: "ACTIVE")  # already spinning, machine free
    monkeypatch.setattr(doctor.os, "getloadavg", lambda: (0.1, 0.1, 0.1))
    (finding,) = doctor.threads()
    assert finding.ok and "OMP_WAIT_POLICY=ACTIVE" not in finding.text


def test_the_command_prints_versions_device_and_lesson_times(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "time_presets", lambda device, repeats=3: {
        "sudoku4-cpu": 0.05, "sudoku6-cpu": 0.1, "maze-small-cpu": 0.2})
    monkeypatch.setattr(doctor, "threads", lambda: [doctor.Finding(True, "torch uses 1 thread")])
    assert main(["doctor", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "ok   torch" in out and "trm_lib on cpu" in out and "sudoku6-cpu 100 ms" in out
    assert "06 Sudoku end to end     about 2 minutes" in out and "ready for the course" in out
