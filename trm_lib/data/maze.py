"""Mazes in the style of Maze-Hard: random walls, a far-apart start and goal, one shortest
path as the label, and a checker that accepts *any* shortest path. Also perfect mazes
(a spanning tree of rooms), where exactly one path joins start and goal, so the label is
the only answer: the small CPU set uses those.

A maze is a numpy int array of shape (N, N) (or flat (N*N,)) holding the cell codes below,
which are also the model's tokens (PAD = 0 is never stored in a grid).
Path length = number of moves from S to G (so the path marks length - 1 cells with 'o').
"""
from __future__ import annotations

from collections import deque
from functools import lru_cache

import numpy as np

from trm_lib.data.tasks import MAZE_CHARS as CHARS  # CHARS[code - 1] is the CSV character of a code
from trm_lib.data.tasks import grid_side

WALL, OPEN, START, GOAL, PATH = 1, 2, 3, 4, 5
CODE_OF = {ch: i + 1 for i, ch in enumerate(CHARS)}
WALL_RANGE = (0.3, 0.5)  # fraction of wall cells, drawn uniformly per maze


def default_min_path(size: int) -> int:
    """Maze-Hard's minimum (path longer than 110 moves on 30 x 30), scaled linearly with
    the side: floor(110 * N / 30). 12 x 12 -> 44."""
    return (110 * size) // 30


@lru_cache(maxsize=None)
def neighbours(size: int) -> tuple[tuple[int, ...], ...]:
    """Per flat cell, its neighbours in the fixed order up, down, left, right."""
    out = []
    for r in range(size):
        for c in range(size):
            nb = []
            if r > 0:
                nb.append((r - 1) * size + c)
            if r < size - 1:
                nb.append((r + 1) * size + c)
            if c > 0:
                nb.append(r * size + c - 1)
            if c < size - 1:
                nb.append(r * size + c + 1)
            out.append(tuple(nb))
    return tuple(out)


def bfs(passable: list[bool], size: int, source: int) -> list[int]:
    """Moves from `source` to every cell through passable cells; -1 where unreachable."""
    nbs = neighbours(size)
    dist = [-1] * (size * size)
    dist[source] = 0
    queue = deque([source])
    while queue:
        u = queue.popleft()
        du = dist[u] + 1
        for v in nbs[u]:
            if passable[v] and dist[v] < 0:
                dist[v] = du
                queue.append(v)
    return dist


def size_of(grid: np.ndarray) -> int:
    return grid_side(np.asarray(grid).size, "maze", what="maze")


def canonical_path(passable: list[bool], size: int, start: int, goal: int) -> list[int]:
    """One shortest path start -> goal (cells, both ends included), chosen by always
    stepping to the first neighbour (up, down, left, right) that is one move closer."""
    to_goal = bfs(passable, size, goal)
    if to_goal[start] < 0:
        raise ValueError("goal is not reachable from start")
    nbs = neighbours(size)
    path = [start]
    while path[-1] != goal:
        here = to_goal[path[-1]]
        path.append(next(v for v in nbs[path[-1]] if to_goal[v] == here - 1))
    return path


def solve_label(maze: np.ndarray) -> np.ndarray:
    """The label of a maze: the same grid with the canonical shortest path marked PATH."""
    flat = np.asarray(maze).reshape(-1)
    size = size_of(flat)
    start, goal = _endpoints(flat)
    path = canonical_path((flat != WALL).tolist(), size, start, goal)
    label = flat.copy()
    label[path[1:-1]] = PATH
    return label.reshape(np.asarray(maze).shape)


def _endpoints(flat: np.ndarray) -> tuple[int, int]:
    for code, name in ((START, "start S"), (GOAL, "goal G")):
        k = int((flat == code).sum())
        if k != 1:
            raise ValueError(f"maze has {k} cells marked {name}, expected exactly 1")
    return int(np.flatnonzero(flat == START)[0]), int(np.flatnonzero(flat == GOAL)[0])


def generate_maze(
    size: int, min_path: int, rng: np.random.Generator, max_tries: int = 20_000
) -> tuple[np.ndarray, np.ndarray, int]:
    """One maze whose shortest S-G path is longer than `min_path` moves.

    Walls fill a uniform 30-50% of cells. Start and goal come from BFS distances rather than
    rejecting random pairs: BFS from a random open cell to its farthest cell A, BFS from A,
    G uniform among cells more than `min_path` from A, BFS from G, S uniform among cells more
    than `min_path` from G. A grid without such cells is redrawn.
    Returns (maze (N, N), label (N, N), path length in moves).
    """
    n2 = size * size
    for _ in range(max_tries):
        walls = rng.random(n2) < rng.uniform(*WALL_RANGE)
        passable = (~walls).tolist()
        opens = np.flatnonzero(~walls)
        if len(opens) < min_path + 2:
            continue
        d0 = bfs(passable, size, int(rng.choice(opens)))
        a = int(np.argmax(d0))
        far = np.flatnonzero(np.array(bfs(passable, size, a)) > min_path)
        if len(far) == 0:
            continue
        goal = int(rng.choice(far))
        to_goal = np.array(bfs(passable, size, goal))
        start = int(rng.choice(np.flatnonzero(to_goal > min_path)))
        maze = np.where(walls, WALL, OPEN)
        maze[start], maze[goal] = START, GOAL
        label = maze.copy()
        path = canonical_path(passable, size, start, goal)
        label[path[1:-1]] = PATH
        return maze.reshape(size, size), label.reshape(size, size), len(path) - 1
    raise ValueError(f"no {size}x{size} maze with a path longer than {min_path} in {max_tries} "
                     "tries; lower the minimum path length")


def perfect_min_path(size: int) -> int:
    """Default minimum path length of an N x N perfect maze: N + N // 2 (9 x 9 -> 13)."""
    return size + size // 2


def count_shortest_paths(passable: list[bool], size: int, start: int, goal: int) -> int:
    """How many different shortest paths join start and goal (0 if none)."""
    dist = bfs(passable, size, start)
    if dist[goal] < 0:
        return 0
    ways = [0] * (size * size)
    ways[start] = 1
    nbs = neighbours(size)
    for v in sorted((v for v in range(size * size) if dist[v] > 0), key=dist.__getitem__):
        ways[v] = sum(ways[u] for u in nbs[v] if dist[u] == dist[v] - 1)
    return ways[goal]


def spanning_tree_walls(size: int, rng: np.random.Generator) -> np.ndarray:
    """(N, N) bool walls of a perfect maze, N odd: rooms on the even rows and columns, joined
    by the doors of a random spanning tree (randomised Kruskal: try the doors between
    neighbouring rooms in random order, open one when it joins two unconnected parts)."""
    if size % 2 == 0:
        raise ValueError(f"a perfect maze needs an odd size (rooms on even rows and columns), got {size}")
    k = (size + 1) // 2  # rooms per side
    walls = np.ones((size, size), dtype=bool)
    walls[::2, ::2] = False
    part = list(range(k * k))

    def root(a: int) -> int:
        while part[a] != a:
            part[a] = part[part[a]]
            a = part[a]
        return a

    doors = [(r, c, 0, 1) for r in range(k) for c in range(k - 1)] + \
            [(r, c, 1, 0) for r in range(k - 1) for c in range(k)]
    for i in rng.permutation(len(doors)):
        r, c, dr, dc = doors[i]
        a, b = root(r * k + c), root((r + dr) * k + c + dc)
        if a != b:
            part[a] = b
            walls[2 * r + dr, 2 * c + dc] = False
    return walls


def backtracker_walls(size: int, rng: np.random.Generator) -> np.ndarray:
    """(N, N) bool walls of a perfect maze by another construction, the recursive backtracker:
    a random walk from a random room that opens a door to an unvisited neighbour while it has
    one and steps back when it has none. It makes long corridors with few branches, where
    Kruskal's mazes branch often: a test of a model trained on the other kind."""
    if size % 2 == 0:
        raise ValueError(f"a perfect maze needs an odd size (rooms on even rows and columns), got {size}")
    k = (size + 1) // 2
    walls = np.ones((size, size), dtype=bool)
    walls[::2, ::2] = False
    seen = np.zeros((k, k), dtype=bool)
    first = (int(rng.integers(k)), int(rng.integers(k)))
    seen[first] = True
    stack = [first]
    while stack:
        r, c = stack[-1]
        options = [(r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                   if 0 <= r + dr < k and 0 <= c + dc < k and not seen[r + dr, c + dc]]
        if not options:
            stack.pop()
            continue
        nr, nc = options[int(rng.integers(len(options)))]
        walls[r + nr, c + nc] = False  # the door between room (r, c) and room (nr, nc)
        seen[nr, nc] = True
        stack.append((nr, nc))
    return walls


CONSTRUCTIONS = {"kruskal": spanning_tree_walls, "backtracker": backtracker_walls}


def generate_perfect_maze(
    size: int, min_path: int, rng: np.random.Generator, max_tries: int = 1000, construction: str = "kruskal"
) -> tuple[np.ndarray, np.ndarray, int]:
    """One perfect N x N maze (N odd) whose S-G path is longer than `min_path` moves.

    Start is a random room; goal is uniform among the rooms more than `min_path` moves away;
    a maze without such a room is redrawn. The path is unique, so the label is the answer.
    Returns (maze (N, N), label (N, N), path length in moves).
    """
    for _ in range(max_tries):
        walls = CONSTRUCTIONS[construction](size, rng).reshape(-1)
        cells = np.arange(size * size)
        rooms = cells[(cells // size % 2 == 0) & (cells % size % 2 == 0)]
        start = int(rng.choice(rooms))
        dist = np.array(bfs((~walls).tolist(), size, start))
        far = rooms[dist[rooms] > min_path]
        if len(far) == 0:
            continue
        goal = int(rng.choice(far))
        maze = np.where(walls, WALL, OPEN)
        maze[start], maze[goal] = START, GOAL
        label = maze.copy()
        path = canonical_path((~walls).tolist(), size, start, goal)
        label[path[1:-1]] = PATH
        return maze.reshape(size, size), label.reshape(size, size), len(path) - 1
    raise ValueError(f"no {size}x{size} perfect maze with a path longer than {min_path} in {max_tries} "
                     "tries; lower the minimum path length")


def path_problem(maze: np.ndarray, predicted: np.ndarray) -> str | None:
    """Why `predicted` is not a valid shortest path for `maze`, or None if it is one.

    Valid: same walls, S and G as the maze, PATH only on open cells, and the PATH cells
    form a route S -> G of shortest length (any shortest path counts, not only ours).
    """
    m = np.asarray(maze).reshape(-1)
    p = np.asarray(predicted).reshape(-1)
    if p.shape != m.shape:
        return f"prediction has {p.size} cells, maze has {m.size}"
    size = size_of(m)
    start, goal = _endpoints(m)
    if np.any(p[m != OPEN] != m[m != OPEN]):
        return "prediction changes a wall, S or G"
    if np.any((m == OPEN) & (p != OPEN) & (p != PATH)):
        return "prediction puts something other than path on an open cell"
    shortest = bfs((m != WALL).tolist(), size, start)[goal]
    if shortest < 0:
        return "goal is not reachable from start"
    n_path = int((p == PATH).sum())
    if n_path != shortest - 1:
        return f"path marks {n_path} cells, a shortest path marks {shortest - 1}"
    along = bfs((p != WALL) & (p != OPEN), size, start)[goal]
    if along != shortest:
        return "path cells do not connect S to G"
    return None


def is_valid_shortest_path(maze: np.ndarray, predicted: np.ndarray) -> bool:
    """True if `predicted` (the maze with a path marked) shows a shortest S-G path."""
    return path_problem(maze, predicted) is None


@lru_cache(maxsize=None)
def dihedral_perms(size: int) -> np.ndarray:
    """(8, N*N) index permutations of the square's symmetries: new_flat = old_flat[perm]."""
    grid = np.arange(size * size).reshape(size, size)
    out = []
    for flip in (False, True):
        g = grid.T if flip else grid
        for k in range(4):
            out.append(np.rot90(g, k).reshape(-1))
    return np.stack(out)


def to_string(grid: np.ndarray) -> str:
    return "".join(CHARS[int(c) - 1] for c in np.asarray(grid).reshape(-1))


def from_string(text: str) -> np.ndarray:
    n = size_of(np.zeros(len(text)))
    try:
        return np.array([CODE_OF[ch] for ch in text], dtype=np.int64).reshape(n, n)
    except KeyError as err:
        raise ValueError(f"bad maze character {err.args[0]!r}; expected one of {CHARS!r}") from None
