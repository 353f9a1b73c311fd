#!/bin/sh
# Regenerates every shipped set. Test sets exclude puzzles equivalent (under the
# augmentations) to their training set. Run from the repository root.
set -e
TRM=${TRM:-"python -m trm_lib"}
cd "$(dirname "$0")/.."

$TRM data sudoku --size 4 --min-clues 7 --count 400 --seed 401 --out datasets/sudoku-4x4/train.csv.gz
$TRM data sudoku --size 4 --min-clues 7 --count 200 --seed 402 --out datasets/sudoku-4x4/test.csv.gz --exclude datasets/sudoku-4x4/train.csv.gz
$TRM data sudoku --size 6 --count 2000 --seed 601 --out datasets/sudoku-6x6/train.csv.gz
$TRM data sudoku --size 6 --count 1000 --seed 602 --out datasets/sudoku-6x6/test.csv.gz --exclude datasets/sudoku-6x6/train.csv.gz
$TRM data maze --size 9 --perfect --count 4000 --seed 901 --out datasets/maze-9x9/train.csv.gz
$TRM data maze --size 9 --perfect --count 500 --seed 902 --out datasets/maze-9x9/test.csv.gz --exclude datasets/maze-9x9/train.csv.gz
$TRM data maze --size 30 --min-path 110 --count 1000 --seed 3001 --out datasets/maze-30x30-hard/train.csv.gz
$TRM data maze --size 30 --min-path 110 --count 1000 --seed 3002 --out datasets/maze-30x30-hard/test.csv.gz --exclude datasets/maze-30x30-hard/train.csv.gz
$TRM data sudoku --size 9 --hard --count 1000 --seed 901 --out datasets/sudoku-9x9-hard/train.csv.gz
$TRM data sudoku --size 9 --hard --count 1000 --seed 902 --out datasets/sudoku-9x9-hard/test.csv.gz --exclude datasets/sudoku-9x9-hard/train.csv.gz
$TRM data sudoku --size 9 --min-clues 26-34 --count 10000 --seed 911 --out datasets/sudoku-9x9/train.csv.gz
$TRM data sudoku --size 9 --min-clues 30 --count 1000 --seed 912 --out datasets/sudoku-9x9/test.csv.gz --exclude datasets/sudoku-9x9/train.csv.gz
$TRM data sudoku --size 9 --min-clues 28 --count 500 --seed 928 --out datasets/sudoku-9x9/test-28.csv.gz --exclude datasets/sudoku-9x9/train.csv.gz
$TRM data sudoku --size 9 --count 500 --seed 920 --out datasets/sudoku-9x9/test-minimal.csv.gz --exclude datasets/sudoku-9x9/train.csv.gz
$TRM data maze --size 9 --perfect --construction backtracker --count 300 --seed 909 --out datasets/maze-9x9/test-backtracker.csv.gz --exclude datasets/maze-9x9/train.csv.gz
$TRM data maze --size 11 --perfect --min-path 20 --count 4000 --seed 111 --out datasets/maze-11x11/train.csv.gz
$TRM data maze --size 11 --perfect --min-path 20 --count 500 --seed 211 --out datasets/maze-11x11/test.csv.gz --exclude datasets/maze-11x11/train.csv.gz
$TRM data maze --size 11 --perfect --construction backtracker --min-path 20 --count 300 --seed 1109 --out datasets/maze-11x11/test-backtracker.csv.gz --exclude datasets/maze-11x11/train.csv.gz
