"""Reason 3 on any data: exact and near copies of training examples in the validation data, found in images of any
size and channels, rows of a table, sequences and several inputs, with distances worked out by hand."""
import numpy as np
import pytest

from lossgap import leaks
from lossgap.leaks import distinct_rows, examples_as_rows, find_duplicates, format_duplicates


def test_planted_copies_in_a_table_with_columns_of_very_different_scales_are_found():
    random = np.random.default_rng(0)
    # income in dollars beside a rate in [0, 1]: per column, one standard deviation is 10,000 and 0.1
    train = np.column_stack([random.normal(50_000, 10_000, 500), random.normal(0.5, 0.1, 500),
                             random.normal(0, 1, 500)])
    validation = np.column_stack([random.normal(50_000, 10_000, 100), random.normal(0.5, 0.1, 100),
                                  random.normal(0, 1, 100)])
    validation[7] = train[3]  # an exact copy
    validation[11] = train[42] + [10.0, 0.0001, 0.001]  # 0.001 standard deviation off in each column
    validation[12] = train[43] + [0.0, 0.05, 0.0]  # half a standard deviation off in the rate alone: not a copy
    found = find_duplicates(train, validation)
    assert (found.exact, found.exact_pairs) == (1, [(3, 7)])
    # in three columns every example has neighbours within 0.05 standard deviations, so the cutoff is lower
    assert found.threshold < 0.05
    assert found.near == 1 and found.near_pairs[0][:2] == (42, 11)
    spreads = train.std(axis=0)
    by_hand = np.sqrt(np.mean((np.array([10.0, 0.0001, 0.001]) / spreads) ** 2))
    assert found.near_pairs[0][2] == pytest.approx(by_hand, rel=1e-3)
    assert found.unit == "standard deviations of each column"


def test_images_of_any_shape_and_channels_and_integer_sequences_are_compared_as_rows():
    random = np.random.default_rng(1)
    train = random.integers(0, 256, (300, 12, 10, 3), dtype=np.uint8)
    validation = random.integers(0, 256, (60, 12, 10, 3), dtype=np.uint8)
    validation[5] = train[200]
    near = train[100].astype(int)
    near[0, 0] = np.clip(near[0, 0] + 3, 0, 255)  # three values moved by 3 of 255
    validation[9] = near.astype(np.uint8)
    found = find_duplicates(train, validation, threshold=0.02, scale=255.0, unit="on [0, 1]")
    assert (found.exact, found.near) == (1, 1) and found.near_pairs[0][:2] == (100, 9)
    moved = (near[0, 0] - train[100][0, 0].astype(int)) / 255.0
    assert found.near_pairs[0][2] == pytest.approx(np.sqrt(np.sum(moved ** 2) / 360), rel=1e-4)
    tokens = random.integers(0, 1000, (200, 20))
    held_out = random.integers(0, 1000, (30, 20))
    held_out[[2, 4]] = tokens[[10, 11]]
    assert find_duplicates(tokens, held_out).exact == 2


def test_several_inputs_are_one_example_each():
    images, features = np.arange(24, dtype=np.float32).reshape(4, 3, 2), np.arange(8).reshape(4, 2)
    rows = examples_as_rows({"image": images, "features": features})
    assert rows.shape == (4, 8)
    assert find_duplicates({"image": images, "features": features},
                           {"image": images[[1]], "features": features[[1]]}).exact == 1
    assert find_duplicates({"image": images, "features": features},
                           {"image": images[[1]], "features": features[[2]]}).exact == 0


def test_the_line_gives_counts_pairs_and_units():
    random = np.random.default_rng(2)
    train, validation = random.normal(size=(50, 4)), random.normal(size=(10, 4))
    validation[0] = train[1]
    found = find_duplicates(train, validation)
    line = format_duplicates(found)
    assert line == ("1 of 10 validation examples are exact copies of training examples and 0 more are near copies "
                    f"(within {found.threshold:g} standard deviations of each column), e.g. validation 0 = training 1")


def test_rows_whose_hashes_agree_are_copies_only_if_their_bytes_agree(monkeypatch):
    random = np.random.default_rng(3)
    train = random.normal(size=(40, 5)).astype(np.float32)
    train[[7, 30]] = train[2]  # three equal rows: two of them repeat an earlier one
    validation = random.normal(size=(12, 5)).astype(np.float32)
    validation[4], validation[9] = train[30], train[11]
    monkeypatch.setattr(leaks, "digests", lambda rows: [0] * len(rows))  # every hash the same
    assert distinct_rows(train) == 38
    found = find_duplicates(train, validation)
    assert (found.exact, found.exact_pairs) == (2, [(2, 4), (11, 9)])


def test_a_column_that_varies_in_a_few_rows_only_still_counts():
    random = np.random.default_rng(4)
    count = 4 * leaks.SPREAD_ROWS
    train = random.normal(size=(count, 12))  # enough columns that no other row comes near
    train[:, 2] = 0.0
    train[[1001, 2002, 3003], 2] = 1.0  # none of them among the evenly spaced rows the spreads are estimated from
    assert 1001 % (count // leaks.SPREAD_ROWS) and 2002 % 4 and 3003 % 4
    validation = random.normal(size=(20, 12))
    validation[0] = train[1001]
    validation[1] = train[2002]
    validation[1, 2] = 0.0  # otherwise a copy, but 58 standard deviations off in the third column
    found = find_duplicates(train, validation)
    assert (found.exact, found.exact_pairs) == (1, [(1001, 0)])
    assert found.near == 0


def test_a_near_copy_in_many_dimensions_is_measured_in_standard_deviations_of_all_values():
    random = np.random.default_rng(5)
    train = random.normal(3.0, 2.0, size=(300, 8, 8)).astype(np.float32)  # 64 values, projected to fewer
    validation = random.normal(3.0, 2.0, size=(30, 8, 8)).astype(np.float32)
    validation[6] = train[120] + 0.01
    found = find_duplicates(train, validation)
    assert found.unit == "standard deviations" and found.near == 1 and found.near_pairs[0][:2] == (120, 6)
    by_hand = np.sqrt(np.mean(((validation[6] - train[120]) / train.astype(np.float64).std()) ** 2))
    assert found.near_pairs[0][2] == pytest.approx(by_hand, rel=1e-4)
