"""Answers of lessons 01-05 kept for lesson 09: a passing check keeps the learner's piece, lesson 09
brings it in after checking it again, and everything else falls back to the reference with a line
that says why. The code runs as a notebook cell does: in a `__main__` namespace, its lines in linecache."""
import linecache
import itertools

import pytest
import torch

from trm_lib import layers
from trm_lib.course import answers
from trm_lib.course.exercises import check_earlier_answers
from trm_lib.course.exercises import check_mixer_block, check_rms_norm, check_swiglu

_cells = itertools.count()

NOTEBOOK_START = """
import torch
import torch.nn.functional as F
from torch import nn
from trm_lib.layers import Linear
EPS = 1e-5
"""

RMS_NORM = """
def mean_square(h):
    return h.square().mean(-1, keepdim=True)


def rms_norm(h: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    h32 = h.float()
    return (h32 * torch.rsqrt(mean_square(h32) + eps)).to(h.dtype)
"""

SWIGLU_AND_BLOCK = """
class SwiGLU(nn.Module):
    def __init__(self, width: int, expansion: float):
        super().__init__()
        hidden = -(-round(expansion * width * 2 / 3) // 256) * 256
        self.gate_up = Linear(width, 2 * hidden)
        self.down = Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class MixerBlock(nn.Module):
    def __init__(self, hidden_size: int, total_len: int, expansion: float = 4.0, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.token_mlp = SwiGLU(total_len, expansion)
        self.channel_mlp = SwiGLU(hidden_size, expansion)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        ht = h.transpose(1, 2)
        ht = rms_norm(ht + self.token_mlp(ht), self.eps)
        h = ht.transpose(1, 2)
        return rms_norm(h + self.channel_mlp(h), self.eps)
"""


def run_cell(source: str, space: dict) -> dict:
    name = f"<notebook cell {next(_cells)}>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    exec(compile(source, name, "exec"), space)
    return space


def notebook(*cells: str) -> dict:
    space = {"__name__": "__main__"}
    for cell in (NOTEBOOK_START,) + cells:
        run_cell(cell, space)
    return space


@pytest.fixture
def kept(tmp_path, monkeypatch):
    """Keeping on, into a fresh folder."""
    monkeypatch.setenv("TRM_ANSWERS", str(tmp_path))
    return tmp_path


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.strip().splitlines()


def test_a_passing_check_keeps_the_answer_and_lesson_09_brings_it_in(kept, capsys):
    mine = notebook(RMS_NORM)["rms_norm"]
    assert check_rms_norm(mine) is mine
    assert lines(capsys)[-1] == f"  kept for lesson 09 in {kept.name}/rms_norm.py"

    pieces = check_earlier_answers(kept)
    assert "✓ rms_norm: yours, from lesson 01" in lines(capsys)
    assert pieces.rms_norm is not layers.rms_norm and pieces.rms_norm.__module__ == "my_answers.rms_norm"
    h = torch.randn(2, 3, 8)
    torch.testing.assert_close(pieces.rms_norm(h), layers.rms_norm(h))


def test_a_kept_answer_carries_the_helpers_constants_and_imports_it_reads(kept):
    check_rms_norm(notebook(RMS_NORM)["rms_norm"])
    text = (kept / "rms_norm.py").read_text()
    assert "import torch\n" in text and "EPS = 1e-05" in text and "def mean_square(h):" in text
    assert "import torch.nn.functional" not in text  # read by other cells, not by rms_norm


def test_kept_classes_are_rebuilt_with_the_pieces_lesson_09_brought_in_before_them(kept, capsys):
    space = notebook(RMS_NORM, SWIGLU_AND_BLOCK)
    for check, name in ((check_rms_norm, "rms_norm"), (check_swiglu, "SwiGLU"), (check_mixer_block, "MixerBlock")):
        space[name] = check(space[name])
    assert "def rms_norm" not in (kept / "MixerBlock.py").read_text()  # lesson 09 hands in its own
    capsys.readouterr()

    pieces = check_earlier_answers(kept)
    said = lines(capsys)
    assert {"✓ SwiGLU: yours, from lesson 01", "✓ MixerBlock: yours, from lesson 01"} <= set(said)
    assert isinstance(pieces.MixerBlock(8, 5, 2.0).token_mlp, pieces.SwiGLU)


def test_an_exercise_not_attempted_gives_the_reference_and_says_so(kept, capsys):
    def rms_norm(h, eps=1e-5):
        raise NotImplementedError

    check_rms_norm(rms_norm)
    assert not (kept / "rms_norm.py").exists()
    capsys.readouterr()
    pieces = check_earlier_answers(kept)
    assert pieces.rms_norm is layers.rms_norm and pieces.SwiGLU is layers.SwiGLU
    said = lines(capsys)
    assert "rms_norm: the reference (lesson 01's check has not passed yet)" in said
    assert "halt_loss: the reference (lesson 04's check has not passed yet)" in said
    assert len(said) == len(answers.PIECES) == 8  # one line per piece


def test_a_failing_check_removes_the_answer_kept_before_and_lesson_09_says_the_reference(kept, capsys):
    space = notebook(RMS_NORM)
    check_rms_norm(space["rms_norm"])
    run_cell("def rms_norm(h, eps=1e-5):\n    return h / (h.square().mean(-1, keepdim=True).sqrt() + eps)\n", space)
    assert check_rms_norm(space["rms_norm"]) is layers.rms_norm
    assert lines(capsys)[-1] == f"  (your earlier rms_norm in {kept.name}/ is removed: lesson 09 will use the reference)"
    assert check_earlier_answers(kept).rms_norm is layers.rms_norm
    assert "rms_norm: the reference (lesson 01's check has not passed yet)" in lines(capsys)


def test_a_corrupt_kept_file_falls_back_to_the_reference_with_a_message(kept, capsys):
    check_rms_norm(notebook(RMS_NORM)["rms_norm"])
    (kept / "rms_norm.py").write_text("def rms_norm(h, eps=1e-5:\n")  # cut short
    capsys.readouterr()
    assert check_earlier_answers(kept).rms_norm is layers.rms_norm
    line = lines(capsys)[0]
    assert line.startswith("rms_norm: the reference (your kept answer from lesson 01 no longer loads, SyntaxError")
    assert line.endswith("run lesson 01's check again to keep it afresh)")


def test_a_kept_answer_that_no_longer_passes_its_check_falls_back_and_says_what_differs(kept, capsys):
    (kept / "rms_norm.py").write_text("def rms_norm(h, eps=1e-5):\n    return h\n")  # edited by hand
    assert check_earlier_answers(kept).rms_norm is layers.rms_norm
    line = lines(capsys)[0]
    assert line.startswith("rms_norm: the reference (your kept answer from lesson 01 no longer passes its check: "
                           "rms_norm: output values differ")
    assert "using the reference" not in line


def test_an_answer_that_reads_a_tensor_of_its_notebook_is_not_kept_and_says_why(kept, capsys):
    space = notebook("scale = torch.tensor(1.0)\n"
                     "def rms_norm(h, eps=1e-5):\n"
                     "    return scale * layers_rms(h, eps)\n")
    space["layers_rms"] = layers.rms_norm
    check_rms_norm(space["rms_norm"])
    assert lines(capsys)[-1] == ("  (not kept for lesson 09: it reads `scale`, a Tensor made in the notebook; "
                                 "lesson 09 will use the reference)")
    assert not (kept / "rms_norm.py").exists()


@pytest.mark.parametrize("runs_in, fast, keeps", [("notebooks", "", True), ("notebooks", "1", False),
                                                 ("solutions", "", False)])
def test_only_the_learners_lessons_keep_answers_and_never_in_the_test_run(runs_in, fast, keeps, tmp_path,
                                                                          monkeypatch, capsys):
    learner = tmp_path / "notebooks"
    (tmp_path / runs_in).mkdir(parents=True, exist_ok=True)
    learner.mkdir(exist_ok=True)
    monkeypatch.setattr(answers, "LEARNER_LESSONS", learner)
    monkeypatch.setattr(answers, "KEPT", learner / "my_answers")
    monkeypatch.delenv("TRM_ANSWERS", raising=False)
    monkeypatch.setenv("TRM_FAST", fast)
    monkeypatch.chdir(tmp_path / runs_in)

    mine = notebook(RMS_NORM)["rms_norm"]
    assert check_rms_norm(mine) is mine
    assert (learner / "my_answers" / "rms_norm.py").exists() is keeps
    assert not (tmp_path / "solutions" / "my_answers").exists()
    capsys.readouterr()
    if not keeps:
        assert check_earlier_answers().rms_norm is layers.rms_norm
        said = lines(capsys)
        assert said[0].startswith("Kept answers are off here") and "rms_norm: the reference" in said
