"""The learner's notebooks are the solved ones with every answer stubbed, and stay in sync."""
import nbformat
import pytest

from trm_lib.course.lessons import NOTEBOOKS, SOLUTIONS, fingerprint, generate, learner_version, sources, strip_solutions


def test_a_solution_block_becomes_an_indented_stub_and_the_rest_stays():
    cell = ("def rms_norm(h):\n"
            "    ### BEGIN SOLUTION\n"
            "    return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-5)\n"
            "    ### END SOLUTION\n"
            "\ncheck(rms_norm)")
    out = strip_solutions(cell)
    assert out.startswith("def rms_norm(h):\n    # YOUR CODE HERE\n    raise NotImplementedError(")
    assert "rsqrt" not in out and out.endswith("\ncheck(rms_norm)")


def test_a_concept_questions_answer_is_stubbed_in_the_learners_copy_and_the_question_stays():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "1. Why is the carry detached?\n\n<!-- BEGIN ANSWER -->\nSo that memory stays constant.\n<!-- END ANSWER -->\n")])
    out = learner_version(nb).cells[0].source
    assert out.startswith("1. Why is the carry detached?") and "memory" not in out and "*Your answer:*" in out


def test_an_unclosed_answer_block_is_an_error():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("<!-- BEGIN ANSWER -->\nyes\n")])
    with pytest.raises(ValueError, match="without its END ANSWER"):
        learner_version(nb)


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


def _lesson_folders(tmp_path, answer="x = 1"):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir(), notebooks.mkdir()
    _write_solution(solutions, answer)
    return solutions, notebooks


def _write_solution(solutions, answer):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 01"),
        nbformat.v4.new_code_cell(f"### BEGIN SOLUTION\n{answer}\n### END SOLUTION\n"),
    ])
    nbformat.write(nb, solutions / "01_x.ipynb")


def _edit(path, new_source):
    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source = new_source
    nbformat.write(nb, path)


def test_regenerating_keeps_a_notebook_the_learner_edited(tmp_path):
    solutions, notebooks = _lesson_folders(tmp_path)
    generate(solutions, notebooks)
    _edit(notebooks / "01_x.ipynb", "x = 'my answer'")
    _write_solution(solutions, "x = 2")  # the author changes the lesson meanwhile
    done = generate(solutions, notebooks)
    assert done.kept == [notebooks / "01_x.ipynb"] and not done.written
    assert "my answer" in nbformat.read(notebooks / "01_x.ipynb", as_version=4).cells[-1].source


def test_forcing_saves_the_edited_notebook_as_a_backup_first(tmp_path):
    solutions, notebooks = _lesson_folders(tmp_path)
    generate(solutions, notebooks)
    _edit(notebooks / "01_x.ipynb", "x = 'my answer'")
    done = generate(solutions, notebooks, force=True)
    backup = notebooks / "01_x.ipynb.bak"
    assert done.backups == [backup] and done.written == [notebooks / "01_x.ipynb"]
    assert "my answer" in nbformat.read(backup, as_version=4).cells[-1].source
    assert "NotImplementedError" in nbformat.read(notebooks / "01_x.ipynb", as_version=4).cells[-1].source


def test_an_untouched_notebook_follows_its_solution(tmp_path):
    solutions, notebooks = _lesson_folders(tmp_path)
    generate(solutions, notebooks)
    nb = nbformat.read(notebooks / "01_x.ipynb", as_version=4)  # run, not edited: outputs only
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    nbformat.write(nb, notebooks / "01_x.ipynb")
    nb = nbformat.read(solutions / "01_x.ipynb", as_version=4)
    nb.cells[0].source = "# 01, rewritten"
    nbformat.write(nb, solutions / "01_x.ipynb")
    done = generate(solutions, notebooks)
    assert done.written == [notebooks / "01_x.ipynb"] and not done.kept and not done.backups
    assert nbformat.read(notebooks / "01_x.ipynb", as_version=4).cells[0].source == "# 01, rewritten"


def test_a_learner_notebook_that_is_not_json_is_kept_and_named_until_forced(tmp_path):
    solutions, notebooks = _lesson_folders(tmp_path)
    (notebooks / "01_x.ipynb").write_text('{"cells": [ half a notebook')
    done = generate(solutions, notebooks)
    assert done.kept == [notebooks / "01_x.ipynb"] and "01_x.ipynb is not a readable notebook" in done.unreadable[notebooks / "01_x.ipynb"]
    done = generate(solutions, notebooks, force=True)
    assert done.written == [notebooks / "01_x.ipynb"] and (notebooks / "01_x.ipynb.bak").read_text().startswith('{"cells": [ half')


def test_a_solved_lesson_that_is_not_json_is_named(tmp_path):
    solutions, notebooks = _lesson_folders(tmp_path)
    (solutions / "01_x.ipynb").write_text("not json")
    with pytest.raises(ValueError, match="01_x.ipynb is not a readable notebook"):
        generate(solutions, notebooks)


def test_a_notebook_without_a_fingerprint_that_differs_counts_as_edited(tmp_path):
    solutions, notebooks = _lesson_folders(tmp_path)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("mine")]), notebooks / "01_x.ipynb")
    assert generate(solutions, notebooks).kept == [notebooks / "01_x.ipynb"]


@pytest.mark.parametrize("learner", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_each_shipped_learner_notebook_carries_its_fingerprint(learner):
    # without it, the first regeneration could not tell a learner's edits from the author's
    nb = nbformat.read(learner, as_version=4)
    assert nb.metadata.get("trm_lib", {}).get("sources_sha256") == fingerprint(nb), (
        f"{learner.name} has no fingerprint of its cells: run `python -m trm_lib lessons`")


def _run_cell(source, text="stored output\n"):
    return nbformat.v4.new_code_cell(source, outputs=[nbformat.v4.new_output("stream", text=text)])


def test_outputs_that_depend_on_the_learners_code_are_cleared_and_the_references_stay():
    nb = nbformat.v4.new_notebook(cells=[
        _run_cell("def rms_norm(h):\n    ### BEGIN SOLUTION\n    return h\n    ### END SOLUTION\n"),
        _run_cell("rms_norm = check_rms_norm(rms_norm)"),
        _run_cell("print(rms_norm(x).std())"),  # uses the learner's function: "RMS 1.00"
        _run_cell("y = library_norm(x)\nprint(y)"),  # the reference's code only
        _run_cell("out = []\nfor s in (1, 2):\n    out.append(rms_norm(s * x))"),  # changed in place
        _run_cell("plot(out)"),  # depends through `out`
        _run_cell("out = library_run()\nplot(out)"),  # `out` rebound from the library: stays
    ])
    kept = [bool(c.outputs) for c in learner_version(nb).cells if c.cell_type == "code"]
    assert kept == [False, False, False, True, False, False, True]


def test_a_function_argument_named_like_the_learners_function_is_not_a_dependence():
    nb = nbformat.v4.new_notebook(cells=[
        _run_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"),
        _run_cell("def g(f):\n    return f(1)\nprint(g(abs))"),
    ])
    assert [bool(c.outputs) for c in learner_version(nb).cells if c.cell_type == "code"] == [False, True]


def test_a_learner_copy_with_cleared_outputs_says_where_the_others_come_from():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 01"),
        _run_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"),
    ])
    cells = learner_version(nb).cells
    assert cells[1].cell_type == "markdown" and "run of the solved lesson" in cells[1].source
