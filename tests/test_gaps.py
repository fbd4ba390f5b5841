"""The gap split into terms from a history, its table and its answer in words, on histories whose numbers are chosen
so that each expected value is worked out by hand."""
import numpy as np
import pytest

from lossgap.answer import answer
from lossgap.gaps import (ERROR_KEYS, LABELS, LOGGED_GAP, PENALTY, TERMS, epoch_numbers, format_gaps, gap_terms,
                          late_start, mean_gaps, signed, spans)

TERM_IDS = [term.id for term in TERMS]

# chosen so that no two pairs of keys differ by the same amounts over the two epochs (nor by their negatives): a
# term taken from a wrong key, or with its sign turned, gives numbers other than those asked for below
SEVEN_TERMS = {"loss": [1.00, 0.60], "train_end_loss": [0.93, 0.58], "train_end_nodropout_loss": [0.74, 0.51],
               "train_end_nonoise_loss": [0.71, 0.47], "train_end_noaugmentation_loss": [0.60, 0.44],
               "train_end_nobatchnorm_loss": [0.47, 0.39], "train_inference_loss": [0.43, 0.35],
               "val_loss": [0.88, 0.66], "accuracy": [0.61, 0.72], "val_accuracy": [0.57, 0.79]}


def test_each_term_is_one_measurement_minus_the_one_before_it():
    terms = gap_terms(SEVEN_TERMS)
    assert list(terms) == TERM_IDS + [LOGGED_GAP]
    assert list(terms["running_mean"]) == pytest.approx([-0.07, -0.02])  # train_end_loss - loss
    assert list(terms["dropout"]) == pytest.approx([-0.19, -0.07])  # train_end_nodropout_loss - train_end_loss
    assert list(terms["noise"]) == pytest.approx([-0.03, -0.04])  # nonoise - nodropout
    assert list(terms["augmentation"]) == pytest.approx([-0.11, -0.03])  # noaugmentation - nonoise
    assert list(terms["batch_norm"]) == pytest.approx([-0.13, -0.05])  # nobatchnorm - noaugmentation
    assert list(terms["other"]) == pytest.approx([-0.04, -0.04])  # inference - nobatchnorm
    assert list(terms["generalization"]) == pytest.approx([0.45, 0.31])  # val_loss - inference
    assert list(terms[LOGGED_GAP]) == pytest.approx([-0.12, 0.06])  # val_loss - loss


def test_the_table_names_the_absent_families_on_one_line_instead_of_rows_of_zeros():
    history = dict(SEVEN_TERMS, train_end_nonoise_loss=SEVEN_TERMS["train_end_nodropout_loss"],
                   train_inference_loss=SEVEN_TERMS["train_end_nobatchnorm_loss"],
                   val_loss=[value - 0.04 for value in SEVEN_TERMS["val_loss"]])
    lines = format_gaps(mean_gaps(history))
    names = [line.split("  ")[0] for line in lines[1:-1]]
    assert names == ["running mean (reason 2)", "dropout (reason 1)", "augmentation (reason 1)",
                     "batch-norm statistics", "generalization (reason 3 if negative)", "logged gap (val_loss - loss)"]
    assert lines[-1] == "not in this model, so 0: GaussianNoise (reason 1), other training-only layers"


def test_spans_are_the_first_epoch_the_first_three_the_last_ones_and_all_without_repeats():
    def labels(*arguments, **keywords):
        return [label for label, _ in spans(*arguments, **keywords)]

    assert labels(1) == ["epoch 1"]
    assert labels(2) == ["epoch 1", "epochs 1-2"]
    assert labels(3) == ["epoch 1", "epochs 1-3"]
    assert labels(25, late=17) == ["epoch 1", "epochs 1-3", "epochs 18-25", "epochs 1-25"]
    assert labels(5, first=4, late=4) == ["epoch 4", "epochs 4-6", "epoch 8", "epochs 4-8"]
    assert [(part.start, part.stop) for _, part in spans(25, late=17)] == [(0, 1), (0, 3), (17, 25), (0, 25)]


def test_the_last_epochs_begin_where_the_gap_last_took_the_sign_it_ends_with():
    assert late_start([-0.3, -0.1]) is None  # three epochs or fewer: no last ones apart
    assert late_start([-0.3, -0.2, -0.1, -0.05, 0.01, 0.02, 0.03]) == 4  # above from epoch 5 on
    assert late_start([-0.3, -0.2, -0.1, -0.1, -0.05, -0.02]) == 4  # below throughout: the last third
    assert late_start([0.2, -0.1, -0.1, -0.1, -0.1]) == 4  # never within the first three: the last third


def measured(**keys):
    """Every measurement equal to train_inference_loss unless given: families absent unless they differ."""
    inference = keys["train_inference_loss"]
    history = {key: inference for key in ("train_end_loss", "train_end_nodropout_loss", "train_end_nonoise_loss",
                                          "train_end_noaugmentation_loss", "train_end_nobatchnorm_loss")}
    history.update(keys)
    return history


FOUR_EPOCHS = measured(loss=[1.0, 0.6, 0.5, 0.4], val_loss=[0.7, 0.5, 0.45, 0.42],
                       train_end_loss=[0.8, 0.55, 0.45, 0.38], train_end_nodropout_loss=[0.6, 0.45, 0.4, 0.34],
                       train_end_nonoise_loss=[0.6, 0.45, 0.4, 0.34], train_end_noaugmentation_loss=[0.6, 0.45, 0.4, 0.34],
                       train_inference_loss=[0.5, 0.4, 0.36, 0.3])


def test_mean_gaps_averages_each_term_over_each_span():
    table = mean_gaps(FOUR_EPOCHS)
    # the gap is above from epoch 4 on: the last epochs the answer describes apart are a column too
    assert table.spans == ["epoch 1", "epochs 1-3", "epoch 4", "epochs 1-4"]
    rows = dict(table.rows)
    assert rows["running_mean"] == pytest.approx([-0.2, np.mean([-0.2, -0.05, -0.05]), -0.02,
                                                  np.mean([-0.2, -0.05, -0.05, -0.02])])
    assert rows["dropout"] == pytest.approx([-0.2, np.mean([-0.2, -0.1, -0.05]), -0.04,
                                             np.mean([-0.2, -0.1, -0.05, -0.04])])
    assert rows["batch_norm"] == pytest.approx([-0.1, np.mean([-0.1, -0.05, -0.04]), -0.04,
                                                np.mean([-0.1, -0.05, -0.04, -0.04])])
    assert rows["generalization"] == pytest.approx([0.2, np.mean([0.2, 0.1, 0.09]), 0.12,
                                                    np.mean([0.2, 0.1, 0.09, 0.12])])
    assert rows[LOGGED_GAP] == pytest.approx([-0.3, np.mean([-0.3, -0.1, -0.05]), 0.02,
                                              np.mean([-0.3, -0.1, -0.05, 0.02])])


def test_format_gaps_prints_an_aligned_table_with_signs_and_no_minus_zero():
    lines = format_gaps(mean_gaps(FOUR_EPOCHS))
    assert [part.strip() for part in lines[0].split("  ") if part.strip()][-4:] == ["epoch 1", "epochs 1-3",
                                                                                   "epoch 4", "epochs 1-4"]
    assert lines[1].startswith("running mean (reason 2)") and lines[1].split()[-4:] == ["-0.2000", "-0.1000",
                                                                                        "-0.0200", "-0.0800"]
    gap = next(line for line in lines if line.startswith("logged gap"))
    assert gap.split()[-4] == "-0.3000"
    assert len({len(line) for line in lines[:-1]}) == 1  # every column lines up
    assert (signed(-0.00004), signed(0.00004), signed(-0.00006)) == ("0.0000", "0.0000", "-0.0001")


def test_a_later_fit_is_numbered_from_where_it_started():
    history = dict(FOUR_EPOCHS, epoch=[3.0, 4.0, 5.0, 6.0])  # Keras's H.epoch of fit(initial_epoch=3)
    assert list(epoch_numbers(history)) == [4, 5, 6, 7]
    assert mean_gaps(history).spans == ["epoch 4", "epochs 4-6", "epoch 7", "epochs 4-7"]
    assert answer(history)[0].startswith("In epochs 4 to 6 ")


def with_errors(history, **errors):
    """`history` with each term's standard error: 0.001 for every term unless given (as a list over epochs)."""
    count = len(history["loss"])
    return {**history, **{ERROR_KEYS[term]: errors.get(term, [0.001] * count) for term in TERM_IDS}}


def test_the_answer_names_the_reasons_in_order_with_their_shares():
    paragraphs = answer(with_errors(FOUR_EPOCHS))
    # epochs 1-3: gap mean(-0.3, -0.1, -0.05) = -0.15; pulling down dropout -0.1167, the running mean -0.1 and
    # batch-norm -0.0633 (of their 0.28: 42%, 36%, 23%); pushing up generalization +0.13
    assert paragraphs[0] == (
        "In epochs 1 to 3 the validation loss is 0.150 below the training loss. Pulling it down: dropout (reason 1) "
        "-0.117 (42%), the running mean (reason 2) -0.100 (36%) and batch-norm's batch statistics -0.063 (23%). "
        "Pushing it up: generalization +0.130. The validation set is not easier (generalization +0.130): reason 3 "
        "plays no part.")
    # epoch 4 alone: the gap is above (+0.02), generalization +0.12 against -0.10 (of which -0.04, -0.04, -0.02)
    assert paragraphs[1].startswith("In epoch 4 the validation loss is 0.020 above the training loss. Pulling it down: ")
    assert "dropout (reason 1) -0.040 (40%)" in paragraphs[1] and "batch-norm's batch statistics -0.040 (40%)" in \
        paragraphs[1]  # equal, in either order
    assert "and the running mean (reason 2) -0.020 (20%). Pushing it up: generalization +0.120." in paragraphs[1]


def test_a_term_within_twice_its_standard_error_is_called_noise():
    history = with_errors(FOUR_EPOCHS, generalization=[0.2, 0.2, 0.2, 0.2], batch_norm=[0.01, 0.1, 0.1, 0.1])
    first = answer(history)[0]
    # the errors averaged over epochs 1-3: generalization 0.2, batch-norm 0.07; twice them: 0.4 and 0.14
    assert "Generalization, +0.130 ± 0.400, is within twice its standard error" in first
    assert ("Too small to tell from the sample's own error (within twice its standard error): batch-norm's batch "
            "statistics, -0.063 ± 0.140.") in first
    assert "Pulling it down: dropout (reason 1) -0.117 (54%) and the running mean (reason 2) -0.100 (46%)." in first


def test_a_negative_generalization_term_is_reason_three_and_the_leak_check_weighs_in():
    from lossgap.leaks import Duplicates

    history = with_errors(dict(FOUR_EPOCHS, val_loss=[0.45, 0.35, 0.3, 0.25]))  # below train_inference_loss
    leak = Duplicates(training=400, validation=100, exact=12, exact_pairs=[(5, 1)], near=3,
                      near_pairs=[(9, 2, 0.01)], threshold=0.05, unit="standard deviations")
    paragraphs = answer(history, leak)
    assert "(generalization -0.053): reason 3, a validation set that is easier, or leaks into the training data." \
        in paragraphs[0]
    assert paragraphs[-1] == (
        "Leak check: 12 of 100 validation examples are exact copies of training examples and 3 more are near copies "
        "(within 0.05 standard deviations), e.g. validation 1 = training 5, validation 2 ~ training 9 (0.010); 15.0% "
        "of the validation set has a copy in the training data: a leak, which lowers val_loss and may explain the "
        "negative generalization term.")


def test_regularization_that_keeps_the_gap_below_to_the_end_is_the_posts_bonus():
    history = with_errors(dict(FOUR_EPOCHS, val_loss=[0.7, 0.5, 0.45, 0.3]))  # epoch 4: gap -0.1, dropout -0.04
    assert not any(paragraph.startswith("Bonus") for paragraph in answer(history))
    history = with_errors(dict(history, train_end_nodropout_loss=[0.6, 0.45, 0.4, 0.28],
                               train_end_nonoise_loss=[0.6, 0.45, 0.4, 0.28],
                               train_end_noaugmentation_loss=[0.6, 0.45, 0.4, 0.28]))  # dropout -0.1 of -0.1
    [bonus] = [paragraph for paragraph in answer(history) if paragraph.startswith("Bonus")]
    # the validation loss reached a new low in the last epoch (0.3 against 0.45): too early to call
    assert bonus == ("Bonus: to the last epoch the validation loss stays below the training loss (-0.100), and "
                     "regularization alone pulls it down by -0.100; the validation loss is still falling, so more "
                     "epochs come first; if the gap stays once it levels off, the model may be over-regularized, and "
                     "less of it may lower both losses.")
    levelled = dict(history, val_loss=[0.7, 0.3, 0.3, 0.3])  # no new low after epoch 2
    [bonus] = [paragraph for paragraph in answer(levelled) if paragraph.startswith("Bonus")]
    assert bonus.endswith("pulls it down by -0.100; the model may be over-regularized, and less of it may lower both "
                          "losses.")


def test_penalties_are_named_with_what_they_add():
    history = dict(with_errors(FOUR_EPOCHS), **{PENALTY: [0.2, 0.15, 0.12, 0.1]})
    assert any(paragraph.startswith("Losses the model adds to the compiled one (weight and activity penalties, "
                                    "add_loss) came to 0.1000 on the training sample") for paragraph in answer(history))


def test_every_term_has_a_label_a_reader_of_the_post_recognizes():
    assert [LABELS[term] for term in TERM_IDS] == [
        "running mean (reason 2)", "dropout (reason 1)", "GaussianNoise (reason 1)", "augmentation (reason 1)",
        "batch-norm statistics", "other training-only layers", "generalization (reason 3 if negative)"]
