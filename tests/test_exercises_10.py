"""Lesson 10 checkers: undoing an augmentation and ranking the votes, right and with the usual mistakes."""
import numpy as np

from trm_lib.arc_eval import rank_answers
from trm_lib.course.exercises import check_rank_answers, check_undo_augmentation, reference_undo_augmentation
from trm_lib.data.arc import DIHEDRAL_INVERSE, dihedral


def test_the_reference_and_a_hand_written_inverse_pass(capsys):
    def mine(grid, tid, colours):
        return np.argsort(colours)[dihedral(grid, DIHEDRAL_INVERSE[tid])]

    assert check_undo_augmentation(reference_undo_augmentation) is reference_undo_augmentation
    assert check_undo_augmentation(mine) is mine
    assert capsys.readouterr().out.count("✓ undo_augmentation") == 2


def test_mapping_the_colours_forward_is_caught_and_named(capsys):
    def forward_colours(grid, tid, colours):
        return np.asarray(colours)[dihedral(grid, DIHEDRAL_INVERSE[tid])]

    assert check_undo_augmentation(forward_colours) is reference_undo_augmentation
    assert "inverse permutation" in capsys.readouterr().out


def test_applying_the_map_again_instead_of_its_inverse_is_caught_and_names_the_inverse(capsys):
    def same_map(grid, tid, colours):
        return np.argsort(colours)[dihedral(grid, tid)]

    assert check_undo_augmentation(same_map) is reference_undo_augmentation
    out = capsys.readouterr().out
    assert "dihedral map 1" in out and "its inverse is map 3" in out


def test_forgetting_the_dihedral_map_is_caught(capsys):
    def colours_only(grid, tid, colours):
        return np.argsort(colours)[grid]

    check_undo_augmentation(colours_only)
    out = capsys.readouterr().out
    assert "swaps rows and columns" in out or "not undone" in out


def test_a_vote_that_breaks_ties_by_the_highest_confidence_is_caught(capsys):
    def by_max(answers):
        best = {}
        for g, q in answers:
            key = g.tobytes()
            votes, top, grid = best.get(key, (0, 0.0, g))
            best[key] = (votes + 1, max(top, q), grid)
        return [v[2] for v in sorted(best.values(), key=lambda v: (v[0], v[1]), reverse=True)]

    assert check_rank_answers(by_max) is rank_answers
    assert "mean confidence" in capsys.readouterr().out


def test_ranking_by_confidence_alone_and_keeping_duplicates_are_caught(capsys):
    def by_confidence(answers):
        return [g for g, _ in sorted(answers, key=lambda a: a[1], reverse=True)]

    assert check_rank_answers(by_confidence) is rank_answers
    assert "keep each grid once" in capsys.readouterr().out


def test_the_reference_vote_passes_and_an_unattempted_one_says_so(capsys):
    def not_yet(answers):
        raise NotImplementedError

    assert check_rank_answers(rank_answers) is rank_answers
    assert check_rank_answers(not_yet) is rank_answers
    out = capsys.readouterr().out
    assert "✓ rank_answers" in out and "not attempted yet" in out
