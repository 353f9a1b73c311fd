"""The learner's notebooks are the solved ones with every answer stubbed, and stay in sync."""
import nbformat
import pytest

from trm_lib.lessons import NOTEBOOKS, SOLUTIONS, learner_version, sources, strip_solutions


def test_a_solution_block_becomes_an_indented_stub_and_the_rest_stays():
    cell = ("def rms_norm(h):\n"
            "    ### BEGIN SOLUTION\n"
            "    return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-5)\n"
            "    ### END SOLUTION\n"
            "\ncheck(rms_norm)")
    out = strip_solutions(cell)
    assert out.startswith("def rms_norm(h):\n    # YOUR CODE HERE\n    raise NotImplementedError(")
    assert "rsqrt" not in out and out.endswith("\ncheck(rms_norm)")


def test_an_unclosed_solution_block_is_an_error():
    with pytest.raises(ValueError, match="without its END SOLUTION"):
        strip_solutions("### BEGIN SOLUTION\nx = 1\n")


def test_learner_version_clears_outputs_only_of_exercise_cells():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
                                  outputs=[nbformat.v4.new_output("stream", text="x\n")]),
    ])
    out = learner_version(nb)
    assert out.cells[0].outputs and not out.cells[1].outputs
    assert "x = 1" not in out.cells[1].source


@pytest.mark.parametrize("solved", sorted(SOLUTIONS.glob("*.ipynb")), ids=lambda p: p.name)
def test_each_learner_notebook_matches_its_solved_lesson(solved):
    learner = NOTEBOOKS / solved.name
    assert learner.exists(), f"{learner.name} is missing: run `python -m trm_lib lessons`"
    expected = sources(learner_version(nbformat.read(solved, as_version=4)))
    assert sources(nbformat.read(learner, as_version=4)) == expected, (
        f"{learner.name} differs from solutions/{solved.name}: edit the solution, then run `python -m trm_lib lessons`")


def test_every_learner_notebook_has_a_solved_lesson():
    orphans = {p.name for p in NOTEBOOKS.glob("*.ipynb")} - {p.name for p in SOLUTIONS.glob("*.ipynb")}
    assert not orphans, f"notebooks without a solved source in solutions/: {sorted(orphans)}"


def test_learner_version_clears_the_stored_verdict_of_a_check_cell():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("rms_norm = check_rms_norm(rms_norm)",
                                  outputs=[nbformat.v4.new_output("stream", text="✓ rms_norm matches\n")]),
        nbformat.v4.new_code_cell("plot(x)", outputs=[nbformat.v4.new_output("stream", text="kept\n")]),
    ])
    out = learner_version(nb)
    assert not out.cells[0].outputs and out.cells[1].outputs
