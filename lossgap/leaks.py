"""Reason 3, checked on the data: validation examples that are exact or near copies of training examples (a leak),
on data of any shape: images of any size and channels, rows of a table, sequences.

Exact copies are found by hashing each example's bytes, and comparing the bytes where the hashes agree. Near copies
are validation examples whose nearest training example lies within `threshold` of them, as the root mean square of
the difference over the example's values: in the data's own units where `scale` is given (Fashion-MNIST's pixels on
[0, 1], say), else in standard deviations of the training data, taken for each column of a table (rows of numbers),
and over all values for images and sequences, whose values share one unit; there, also within a tenth of the median
distance from a validation example to its nearest training example, so that in data of few dimensions, where every
example has close neighbours, a neighbour does not pass for a copy. The nearest neighbours come from scikit-learn,
in a random projection of at most PROJECTED dimensions where the data have more (which keeps distances to within a
few tenths, so a near copy stays nearest), each candidate then measured in full.
"""
from typing import NamedTuple

import numpy as np

PROJECTED = 32      # dimensions of the search space where the data have more
CANDIDATES = 5      # nearest training examples in that space, each measured in full
THRESHOLD = 0.05    # standard deviations, as the root mean square difference
RELATIVE = 0.1      # of the median nearest-neighbour distance, where the threshold is in standard deviations
CHUNK = 8192        # examples flattened, scaled and projected at a time
SPREAD_ROWS = 2048  # training examples, at least, that the standard deviations are estimated from


class Duplicates(NamedTuple):
    training: int         # training examples compared
    validation: int       # validation examples compared
    exact: int            # validation examples with a byte-identical training example
    exact_pairs: list     # (training index, validation index), the first few
    near: int             # other validation examples with a training example within `threshold`
    near_pairs: list      # (training index, validation index, distance), the closest few
    threshold: float
    unit: str             # what `threshold` and the distances are in


def examples_as_rows(data):
    """Each example's values as one row: an array (any shape, first axis the examples), or a list, tuple or dict of
    them (a model with several inputs), joined."""
    if isinstance(data, dict):
        data = [data[key] for key in sorted(data)]
    if isinstance(data, (list, tuple)):
        return np.concatenate([examples_as_rows(part) for part in data], axis=1)
    array = np.asarray(data)
    return array.reshape(len(array), -1)


def digests(rows):
    """A hash of each row's bytes: equal rows, equal hashes (rows that differ share one by a chance of about one in
    2**64; byte_groups compares the bytes)."""
    return [hash(row.tobytes()) for row in rows]


def byte_groups(rows):
    """The rows grouped by their bytes: {hash: [index of the first row with those bytes, ...]}, one index per distinct
    row."""
    groups = {}
    for index, digest in enumerate(digests(rows)):
        if digest not in groups:
            groups[digest] = [index]
        elif first_with_bytes(groups, rows, digest, rows[index].tobytes()) is None:
            groups[digest].append(index)
    return groups


def first_with_bytes(groups, rows, digest, data):
    """The index of the first of `rows` (grouped by byte_groups) whose bytes are `data` (hashed to `digest`), or
    None."""
    return next((first for first in groups.get(digest, ()) if rows[first].tobytes() == data), None)


def distinct_rows(rows):
    """How many rows differ in their bytes from every other."""
    return sum(len(firsts) for firsts in byte_groups(rows).values())


def find_duplicates(training, validation, threshold=THRESHOLD, scale=None, unit="in the data's units", examples=5,
                    seed=0):
    """Compare a training set with a validation set (arrays, or several as in examples_as_rows); see Duplicates.
    `scale` divides every value (e.g. 255 for 8-bit pixels) and makes `threshold` a distance in those units, which
    `unit` names."""
    train_rows, validation_rows = examples_as_rows(training), examples_as_rows(validation)
    groups = byte_groups(train_rows)
    exact = []
    for index, digest in enumerate(digests(validation_rows)):
        first = first_with_bytes(groups, train_rows, digest, validation_rows[index].tobytes())
        if first is not None:
            exact.append((first, index))
    copied = {index for _, index in exact}
    others = np.array([index for index in range(len(validation_rows)) if index not in copied], dtype=int)
    near = []
    if len(others) and len(train_rows) and np.issubdtype(train_rows.dtype, np.number):
        if scale is not None:
            offset, spread = 0.0, np.float32(scale)
        else:
            offset, spread, unit = _standardization(training, train_rows)
        distances, nearest = _nearest(train_rows, validation_rows[others], offset, spread, seed)
        if scale is None:
            threshold = float(min(threshold, RELATIVE * np.median(distances)))
        for position in np.argsort(distances):
            if distances[position] >= threshold:
                break
            near.append((int(nearest[position]), int(others[position]), float(distances[position])))
    return Duplicates(len(train_rows), len(validation_rows), len(exact), exact[:examples], len(near),
                      near[:examples], threshold, unit)


def _standardization(training, rows):
    """(offset, spread, unit): per column for a table (rows of numbers), one for all values otherwise, estimated from
    evenly spaced rows (SPREAD_ROWS at least, all of them for fewer than twice as many); a column that does not vary
    there is measured on all the rows, and left out if it never changes (a spread of infinity)."""
    array = training if not isinstance(training, (list, tuple, dict)) else None
    sample = rows[:: max(1, len(rows) // SPREAD_ROWS)].astype(np.float64)
    if array is not None and np.ndim(array) == 2:
        offset, spread = sample.mean(axis=0), sample.std(axis=0)
        flat = spread == 0
        if flat.any() and len(sample) < len(rows):
            every = rows[:, flat].astype(np.float64)
            offset[flat], spread[flat] = every.mean(axis=0), every.std(axis=0)
        spread[spread == 0] = np.inf
        return offset.astype(np.float32), spread.astype(np.float32), "standard deviations of each column"
    spread = sample.std()
    return np.float32(sample.mean()), np.float32(spread if spread > 0 else np.inf), "standard deviations"


def _scaled(rows, offset, spread):
    return (rows.astype(np.float32) - offset) / spread


def _nearest(train_rows, validation_rows, offset, spread, seed):
    """For each validation row, the distance (root mean square over the columns that vary) to its nearest training
    row and that row's index."""
    from sklearn.neighbors import NearestNeighbors

    spreads = np.broadcast_to(spread, train_rows.shape[1:])
    columns = int(np.sum(np.isfinite(spreads)))
    if train_rows.shape[1] > PROJECTED:
        # scaling, then projecting, in one product:
        # (rows - offset) / spread @ P = rows @ (P / spread) - offset / spread @ P
        projection = np.random.default_rng(seed).normal(size=(train_rows.shape[1], PROJECTED)).astype(np.float32)
        projection /= np.sqrt(PROJECTED)
        weights = projection / spreads[:, None]
        shift = (np.broadcast_to(offset, spreads.shape) / spreads) @ projection

        def space(rows):
            return np.concatenate([rows[start:start + CHUNK].astype(np.float32) @ weights - shift
                                   for start in range(0, len(rows), CHUNK)])
    else:
        def space(rows):
            return _scaled(rows, offset, spread)

    neighbours = NearestNeighbors(n_neighbors=min(CANDIDATES, len(train_rows)), algorithm="brute")
    neighbours.fit(space(train_rows))
    _, candidates = neighbours.kneighbors(space(validation_rows))
    best_distance = np.empty(len(validation_rows))
    best_index = np.empty(len(validation_rows), dtype=int)
    for start in range(0, len(validation_rows), CHUNK // 4):
        stop = start + CHUNK // 4
        query = _scaled(validation_rows[start:stop], offset, spread)
        found = candidates[start:stop]
        differences = _scaled(train_rows[found.ravel()], offset, spread).reshape(*found.shape, -1) - query[:, None]
        distances = np.sqrt(np.sum(differences ** 2, axis=2) / max(columns, 1))
        closest = distances.argmin(axis=1)
        best_distance[start:stop] = distances[np.arange(len(found)), closest]
        best_index[start:stop] = found[np.arange(len(found)), closest]
    return best_distance, best_index


def format_duplicates(found, training_name="training", validation_name="validation"):
    """One line: the counts, the first few pairs and what the distances are in."""
    line = (f"{found.exact:,} of {found.validation:,} {validation_name} examples are exact copies of {training_name} "
            f"examples and {found.near:,} more are near copies (within {found.threshold:.2g} {found.unit})")
    pairs = [f"{validation_name} {validation} = {training_name} {train}" for train, validation in found.exact_pairs]
    pairs += [f"{validation_name} {validation} ~ {training_name} {train} ({distance:.3f})"
              for train, validation, distance in found.near_pairs]
    return line + (f", e.g. {', '.join(pairs[:5])}" if pairs else "")
