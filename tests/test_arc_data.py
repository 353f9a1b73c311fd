"""ARC-AGI data as the official builder makes it: tokens on a canvas with EOS, the 8 dihedral
maps and their inverses, colour permutations that keep black, distinct augmentations."""
import numpy as np
import pytest

from trm_lib.data.arc import (DIHEDRAL_INVERSE, EOS, IDENTITY, PAD, ArcTask, Augmentation, augment_task,
                              build_groups, dihedral, draw_augmentation, to_canvas)

GRID = np.arange(6, dtype=np.uint8).reshape(2, 3)


@pytest.mark.parametrize("tid", range(8))
def test_each_dihedral_map_is_undone_by_its_inverse_from_the_official_table(tid):
    assert np.array_equal(dihedral(dihedral(GRID, tid), DIHEDRAL_INVERSE[tid]), GRID)


def test_the_eight_dihedral_maps_are_distinct_and_follow_the_official_ids():
    square = np.arange(9).reshape(3, 3)
    images = [dihedral(square, t).tobytes() for t in range(8)]
    assert len(set(images)) == 8
    assert np.array_equal(dihedral(square, 1), np.rot90(square)) and np.array_equal(dihedral(square, 6), square.T)
    assert np.array_equal(dihedral(square, 7), square[::-1, ::-1].T)  # the anti-diagonal reflection


def test_an_augmentation_keeps_black_and_its_inverse_gives_the_grid_back():
    rng = np.random.RandomState(0)
    for _ in range(20):
        aug = draw_augmentation(rng)
        assert aug.colours[0] == 0 and sorted(aug.colours) == list(range(10))
        assert np.array_equal(aug.invert(aug.apply(GRID)), GRID)
    assert aug.name.startswith(f"|||t{aug.tid}|||0")


def test_the_canvas_puts_eos_below_and_right_of_the_grid_but_not_in_the_corner():
    canvas = to_canvas(np.array([[0, 9]], dtype=np.uint8), row=1, col=2, size=5).reshape(5, 5)
    assert canvas[1, 2:4].tolist() == [2, 11]  # colours 0-9 are tokens 2-11
    assert canvas[2, 2:4].tolist() == [EOS, EOS] and canvas[1, 4] == EOS
    assert canvas[2, 4] == PAD and (canvas == PAD).sum() == 25 - 5


def test_a_grid_at_the_canvas_edge_has_no_eos_there():
    canvas = to_canvas(np.zeros((3, 3), dtype=np.uint8), size=3).reshape(3, 3)
    assert (canvas == 2).all()
    with pytest.raises(ValueError, match="does not fit"):
        to_canvas(np.zeros((3, 3), dtype=np.uint8), row=1, size=3)


def test_augmentations_are_distinct_and_the_original_comes_first():
    task = ArcTask("t", [(GRID, GRID.T.copy())], [(GRID[:1], GRID[:1])])
    augs = augment_task(task, 50, np.random.RandomState(0))
    assert augs[0] == IDENTITY and len(augs) == 51
    keys = {tuple(a.apply(g).tobytes() for pair in task.train + task.test for g in pair) for a in augs}
    assert len(keys) == len(augs)


def test_a_task_with_few_distinct_versions_stops_at_the_retry_limit():
    # an all-black grid: every augmentation is the same puzzle
    black = np.zeros((2, 2), dtype=np.uint8)
    assert augment_task(ArcTask("b", [(black, black)], []), 10, np.random.RandomState(0)) == [IDENTITY]


def test_the_same_seed_draws_the_same_groups_and_each_subset_is_shuffled():
    tasks = [ArcTask(str(i), [(np.full((1, 2), i % 10, dtype=np.uint8), GRID)], []) for i in range(6)]
    a = build_groups([("training", tasks)], num_aug=3, seed=42)
    b = build_groups([("training", tasks)], num_aug=3, seed=42)
    assert [(t.id, augs) for _, t, augs in a] == [(t.id, augs) for _, t, augs in b]
    assert [t.id for _, t, _ in a] != [t.id for t in tasks]
    assert Augmentation(1, tuple(range(10))).name == "|||t1|||0123456789"
