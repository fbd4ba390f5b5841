"""Every table and figure in the README and docs/ that comes from recorded runs, rebuilt from the studies kept in
docs/studies/ (each a folder of `python -m tools.seeds`: its study.json and seed-K.pickle files).

    python -m tools.docs            # rewrite them
    python -m tools.docs --check    # only say which differ from what the histories give (exit 1)

Each study folder gets the study's own summary.md and seeds.png, as the seeds study writes them; the pages get the
tables between their `<!-- begin: NAME -->` and `<!-- end: NAME -->` lines. Nothing else in a page is touched. The
test suite runs the --check comparison, so a change of code that changes a table fails until the docs follow.
"""
import argparse
import json
import os
import re
import statistics

import numpy as np

from lossgap.gaps import LABELS, LOGGED_GAP, acting_terms, study_gap_terms
from tools.seeds import FLAGS_FILE, POST, POST_LOG, load_study, study_summary
from lossgap.errors import UserError, run
from lossgap.files import write_atomically

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDIES = os.path.join("docs", "studies")
# the kept studies: folder name -> seeds it holds
RUNS = {"full": 5, "quick": 5, "quick-augment": 5, "quick-bf16": 3, "six-epochs": 3, "six-epochs-augment": 3}
# the worked example of explain.py: docs/digits/train.py's one fit(), measured
EXAMPLE = os.path.join("docs", "digits", "train-explained", "fit-1")
EXAMPLE_RECORD = os.path.join("docs", "records", "digits-example.json")


def study(name):
    """The histories of the kept study `name`, seed 0 first."""
    return load_study(os.path.join(ROOT, STUDIES, name), RUNS[name])


def measured(*names):
    """The provenance of the kept studies `names`, from their study.json, one line each: no machine, date or version
    beside a generated table is typed by hand."""
    from tools.provenance import describe

    lines = []
    for name in names:
        with open(os.path.join(ROOT, STUDIES, name, FLAGS_FILE)) as file:
            runs = json.load(file)["runs"]
        line = describe(runs, label="seed" if all(key.isdigit() for key in runs) else "run")
        lines.append(f"_{'`docs/studies/' + name + '`: ' if len(names) > 1 else ''}{line}_")
    return "\n\n".join(lines)


def spread(values, digits, signed=False):
    """`mean (min to max)`: the mean over runs and the range of the runs, with their signs if `signed`."""
    values = np.asarray(values, dtype=float)
    sign = "+" if signed else ""
    return (f"{values.mean():{sign}.{digits}f} ({values.min():{sign}.{digits}f} to "
            f"{values.max():{sign}.{digits}f})")


def over_epochs(histories, terms, key, epochs):
    """Per run, the mean over `epochs` (a slice) of the history `key` or, for a term's name, of that term."""
    if key in terms[0]:
        return [float(np.mean(run[key][epochs])) for run in terms]
    return [float(np.mean(history[key][epochs])) for history in histories]


def terms_table(histories, columns, digits, first_column, keys=("loss", "val_loss")):
    """Rows: `keys` of the history, the logged gap and each term that acts; columns: (label, slice of epochs), each
    cell the mean over runs with their range."""
    terms = study_gap_terms(histories)
    rows = list(keys) + [LOGGED_GAP] + acting_terms(*terms)
    lines = [f"| {first_column} | " + " | ".join(label for label, _ in columns) + " |",
             "| --- |" + " ---: |" * len(columns)]
    for row in rows:
        label = f"`{row}`" if row in keys else LABELS[row]
        lines.append(f"| {label} | " + " | ".join(spread(over_epochs(histories, terms, row, epochs), digits,
                                                         signed=row not in keys) for _, epochs in columns) + " |")
    return "\n".join(lines)


def comparison_table(studies, digits, first_column):
    """The same rows for several studies side by side: columns of (label, study's histories, slice of epochs); a
    term that acts in none of a study's runs reads "0 (absent)"."""
    tables = [(label, histories, study_gap_terms(histories), epochs) for label, histories, epochs in studies]
    acting = {name for _, _, terms, _ in tables for name in acting_terms(*terms)}
    rows = ["loss", "val_loss", LOGGED_GAP, *[name for name in tables[0][2][0] if name in acting]]
    lines = [f"| {first_column} | " + " | ".join(label for label, *_ in tables) + " |",
             "| --- |" + " ---: |" * len(tables)]
    for row in rows:
        cells = []
        for _, histories, terms, epochs in tables:
            absent = row in acting and row not in acting_terms(*terms)
            cells.append("0 (absent)" if absent else spread(over_epochs(histories, terms, row, epochs), digits,
                                                            signed=row not in ("loss", "val_loss")))
        lines.append(f"| {f'`{row}`' if row in ('loss', 'val_loss') else LABELS[row]} | " + " | ".join(cells) + " |")
    finals = [spread([history["val_accuracy"][-1] for history in histories], digits)
              if epochs == slice(-1, None) else "" for _, histories, _, epochs in tables]
    if any(finals):
        lines.append("| final val_accuracy | " + " | ".join(finals) + " |")
    return "\n".join(lines)


def readme_full_run(histories):
    """The README's table: the post's run beside the five seeds' mean and range, at the epochs the post printed."""
    lines = [f"| | the post | here: mean (min to max) of {len(histories)} seeds |", "| --- | ---: | ---: |"]
    for epoch in (1, 3, 25):
        post = POST_LOG[epoch]
        ours = [spread([history[key][epoch - 1] for history in histories], 4) for key in ("loss", "val_loss")]
        lines.append(f"| epoch {epoch}: loss; val_loss | {post['loss']:.4f}; {post['val_loss']:.4f} | "
                     f"{ours[0]}; {ours[1]} |")
    lines.append(f"| final val_accuracy | {POST['final val_accuracy']:.4f} | "
                 f"{spread([history['val_accuracy'][-1] for history in histories], 4)} |")
    return "\n".join(lines)


def every_epoch(histories):
    """docs/default_run.md's table: every epoch's mean over the seeds beside the post's, where the post printed it."""
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    header = " | ".join(f"{key} (post) | {key}" for key in keys)
    lines = [f"| epoch | {header} |", "| ---: |" + " ---: | ---: |" * len(keys)]
    for epoch in range(1, len(histories[0]["loss"]) + 1):
        post = POST_LOG.get(epoch, {})
        cells = [f"{post[key]:.4f} | " if key in post else " | " for key in keys]
        cells = [cell + f"{np.mean([history[key][epoch - 1] for history in histories]):.4f}"
                 for cell, key in zip(cells, keys)]
        lines.append(f"| {epoch} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def precision_table(float32, bfloat16):
    """The quick run's final figures in float32 and with --mixed-precision, over the same seeds."""
    lines = [f"| seeds 0-{len(bfloat16) - 1} of the quick run, mean (min to max) | float32 | `--mixed-precision` |",
             "| --- | ---: | ---: |"]
    for key in ("val_accuracy", "val_loss", "loss"):
        lines.append(f"| final `{key}` | " + " | ".join(spread([history[key][-1] for history in histories], 4)
                                                       for histories in (float32, bfloat16)) + " |")
    return "\n".join(lines)


# the sampling-error runs: training seed 0 throughout, the diagnostics' sample size (0: all) and seed varied
SAMPLING = os.path.join(STUDIES, "sampling")


def sampling_table():
    """How far another random draw, and another sample, move the terms, epoch by epoch (differences of two runs
    that train alike and measure with other diagnostics seeds)."""
    from lossgap.history import load_history
    from lossgap.gaps import gap_terms

    def terms(size, seed):
        return gap_terms(load_history(os.path.join(ROOT, SAMPLING, f"size-{size}-seed-{seed}.pickle")))

    every, sampled = (terms(0, 0), terms(0, 1)), (terms(2000, 0), terms(2000, 1))
    rows = [("another draw, all 6,000 images measured", every, "running_mean"),
            ("another draw, all 6,000 images measured", every, "dropout"),
            ("another 2,000-image sample (and draw)", sampled, "running_mean"),
            ("another 2,000-image sample (and draw)", sampled, "generalization")]
    epochs = len(every[0][LOGGED_GAP])
    lines = ["| the term moved by, epoch | what changed | " + " | ".join(str(epoch + 1) for epoch in range(epochs)) + " |",
             "| --- | --- |" + " ---: |" * epochs]
    for label, (first, second), name in rows:
        moved = abs(np.asarray(first[name]) - np.asarray(second[name]))
        lines.append(f"| {LABELS[name]} | {label} | " + " | ".join(f"{value:.3f}" for value in moved) + " |")
    return "\n".join(lines)


def example_history():
    from lossgap.history import load_history

    return load_history(os.path.join(ROOT, EXAMPLE + ".pickle"))


QUICK_RECORD = os.path.join("docs", "records", "quick-run.json")


def quick_run_block(quick):
    """The README's quick run as it ran (tools/quick_run.py's record), and how the kept quick seeds start."""
    from tools.provenance import describe

    with open(os.path.join(ROOT, QUICK_RECORD)) as file:
        record = json.load(file)
    history, machine = record["history"], next(iter(record["runs"].values()))[0]["machine"]
    same = record["stopped_and_resumed"] == history
    below_first = sum(run["val_loss"][0] < run["loss"][0] for run in quick)
    below_second = sum(run["val_loss"][1] < run["loss"][1] for run in quick)
    text = (f"On an {machine['cpu']} with {machine['cpus']} CPUs it took {record['wall_seconds']:.0f} s and printed "
            f"loss {history['loss'][0]:.4f} then {history['loss'][1]:.4f}, val_loss {history['val_loss'][0]:.4f} then "
            f"{history['val_loss'][1]:.4f}, and a final val_accuracy of {history['val_accuracy'][-1]:.4f}; another CPU "
            "gives other digits, since oneDNN sums in another order there. Stopped with Ctrl-C after its first epoch "
            f"and run again, it printed {'the same, every digit' if same else 'other digits'}. Over the "
            f"{len(quick)} seeds of the kept quick study ([reasons.md](docs/reasons.md#the-quick-setting)), the "
            f"validation loss starts below the training loss in {below_first} and lies below it in epoch 2 in "
            f"{below_second}.")
    return wrap(text) + "\n\n_" + describe(record["runs"], label=None) + "_"


RECORDS = os.path.join("docs", "records")
# the benchmark records docs/speed.md's tables are built from: block name -> file in docs/records/
SPEED_RECORDS = {"speed-peers": "benchmark-peers.json", "speed-variants": "benchmark-variants.json",
                 "speed-sgd": "benchmark-sgd.json",
                 "speed-whole-runs": "benchmark-whole-runs.json"}
ROW_NAMES = {"tensorflow": "the default (Keras 3 on TensorFlow, as fashion_mnist.py runs)",
             "keras2": "the post's own code on Keras 2 (tf_keras)", "pytorch": "MiniVGGNet in PyTorch eager",
             "plain": "the default, as fashion_mnist.py runs", "fused-sgd": "SGD's update in TensorFlow's fused kernel",
             "keras-sgd": "Keras's own SGD", "keras-bn": "Keras's own batch-norm layer",
             "bf16": "`--mixed-precision` (bfloat16)", "jax": "Keras 3 on JAX", "torch": "Keras 3 on PyTorch",
             "tensorflow-eigen": "TensorFlow's own kernels (oneDNN off)"}


def wrap(text):
    """A generated paragraph at the pages' width, never broken inside a word or a link."""
    import textwrap

    from lossgap.answer import WIDTH

    return textwrap.fill(text, WIDTH, break_on_hyphens=False, break_long_words=False)


def command(kept):
    """The command a record was measured with, as a reader would rerun it: without where it kept the record."""
    return re.sub(r" --record \S+", "", kept["command"])


def record(name):
    with open(os.path.join(ROOT, RECORDS, name)) as file:
        return json.load(file)


def where_measured(measured, extra=""):
    """One line: the date, the machine, the versions and the commit a record was measured on."""
    from tools.provenance import describe

    measured = {**measured, "date": measured["date"][:10]}
    return "_" + describe({"measured": [measured]}, label=None).replace("; measured: ", "; ").rstrip(".") + extra + "._"


def benchmark_table(kept):
    """A benchmark record of --configurations or --variants as a table: per row the median seconds an epoch (60,000
    training and 10,000 validation images, from timed batches), the range over the turns, each turn's ratio to the
    first row's in the same turn, and the share of numpy's float32 matmul ceiling."""
    names = list(kept["seconds"])
    first = kept["seconds"][names[0]]
    lines = [f"`{command(kept)}`", "",
             "| | s an epoch, median (range) | the first row's time / this row's, turn by turn | of the matmul ceiling |",
             "| --- | ---: | ---: | ---: |"]
    for name in names:
        seconds = kept["seconds"][name]
        median = statistics.median(seconds)
        ratios = " ".join(f"{reference / own:.2f}" for reference, own in zip(first, seconds))
        achieved = kept["flops"] / median / 1e9
        lines.append(f"| `{name}`: {ROW_NAMES.get(name, name)} | {median:.1f} ({min(seconds):.1f}-{max(seconds):.1f}) "
                     f"| {ratios} | {achieved / kept['ceiling']:.0%} of {kept['ceiling']:.0f} GFLOP/s |")
    turns = len(first)
    lines += ["", where_measured(kept["measured"], f"; {turns} turns of {kept['steps']} batches each, the rows in turn"
                                                   + ("; AVX2-only CPU emulated" if kept.get("emulate_avx2") else ""))]
    return "\n".join(lines)


def whole_runs_table(kept):
    names = list(kept["wall"])
    lines = [f"`{command(kept)}`", "", "| | wall s, median (each run) | CPU s, median (each run) |",
             "| --- | ---: | ---: |"]
    for name in names:
        wall, cpu = kept["wall"][name], kept["cpu"][name]
        lines.append(f"| {name} | {statistics.median(wall):.1f} ({', '.join(f'{value:.1f}' for value in wall)}) | "
                     f"{statistics.median(cpu):.1f} ({', '.join(f'{value:.1f}' for value in cpu)}) |")
    ratios = [post / ours for post, ours in zip(kept["cpu"][names[1]], kept["cpu"][names[0]])]
    lines += ["", f"CPU time, {names[1]} / {names[0]}, pair by pair: {', '.join(f'{ratio:.2f}' for ratio in ratios)}.",
              "", where_measured(kept["measured"], f"; each run {' '.join(kept['flags'])}")]
    return "\n".join(lines)


def diagnostics_cost_block():
    lines = []
    for name in ("diagnostics-cost.json", "diagnostics-cost-10000.json"):
        kept = record(name)
        lines += [f"`{command(kept)}`", "", "| pair | s an epoch without | s an epoch with the measurements | of which "
                  "the measurements | with / without | the measurements / the rest of their epoch |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for index, (plain, measured, ratio) in enumerate(zip(kept["turns"]["plain"], kept["turns"]["measured"],
                                                             kept["ratios"]), start=1):
            lines.append(f"| {index} | {plain['with']:.1f} | {measured['with']:.1f} | {measured['measuring']:.1f} | "
                         f"{ratio:.3f} | {measured['measuring'] / measured['epoch']:.3f} |")
        lines += ["", where_measured(kept["measured"], f"; a sample of {kept['diagnostics_size']:,} training images, "
                                                       f"{kept['epochs']} epochs a turn"), ""]
    return "\n".join(lines).rstrip()


def explain_cost_block():
    """`explain` on scripts others wrote: whole processes with and without it, pair by pair, the time each side's fit()
    spent training, explain's own work in its run, and the medians."""
    kept = record("explain-cost.json")
    lines = [f"`{command(kept)}`", "", "| script | pair | s without (CPU s) | s with `explain` (CPU s) | with / "
             "without, wall | with / without, CPU | training with / without | `explain`'s own work, in its run |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for script in kept["scripts"]:
        name = f"`{os.path.basename(script['script'])}`"
        if script["title"] != os.path.basename(script["script"]):
            name = f"{script['title']} ({name})"
        ratios = script["ratios"]
        for index, (plain, explained, wall, cpu, trained) in enumerate(
                zip(script["plain"], script["explained"], ratios["wall"], ratios["cpu"], ratios["trained"]), start=1):
            lines.append(f"| {name if index == 1 else ''} | {index} | {plain['wall']:.1f} ({plain['cpu']:.1f}) | "
                         f"{explained['wall']:.1f} ({explained['cpu']:.1f}) | {wall:.3f} | {cpu:.3f} | "
                         f"{explained['trained']:.1f} / {plain['trained']:.1f} s, {trained:.3f} | "
                         f"{explained['own']:.1f} s, {explained['own'] / explained['trained']:.1%} |")
        if len(script["plain"]) > 1:
            median = {kind: statistics.median(values) for kind, values in ratios.items()}
            share = statistics.median(run["own"] / run["trained"] for run in script["explained"])
            lines.append(f"|  | median |  |  | {median['wall']:.3f} | {median['cpu']:.3f} | {median['trained']:.3f} | "
                         f"{share:.1%} |")
    lines += ["", where_measured(kept["measured"], "; whole processes, each script run as it is (its `fit()` timed), "
                                                   "then through `python -m lossgap explain`")]
    return "\n".join(lines)


def speed_summary_block():
    """The README's speed paragraph: the benchmark's epoch times and what --diagnostics and --mixed-precision change,
    each from its kept record, with where they were measured."""
    peers, variants, cost = record("benchmark-peers.json"), record("benchmark-variants.json"), \
        record("diagnostics-cost.json")
    epoch = {name: statistics.median(seconds) for name, seconds in peers["seconds"].items()}
    shares = [turn["measuring"] / turn["epoch"] for turn in cost["turns"]["measured"]]
    faster = statistics.median(plain / bf16 for plain, bf16 in zip(variants["seconds"]["plain"],
                                                                     variants["seconds"]["bf16"]))
    text = (f"An epoch of the default (60,000 training and 10,000 validation images) takes {epoch['tensorflow']:.0f} s "
            f"on a {peers['measured']['machine']['cpus']}-vCPU {peers['measured']['machine']['cpu']}, the post's own "
            f"code on Keras 2 {epoch['keras2']:.0f} s and the same network in PyTorch eager {epoch['pytorch']:.0f} s "
            f"(medians of {len(peers['seconds']['tensorflow'])} turns, {peers['measured']['date'][:10]}); "
            f"`--diagnostics` adds {min(shares):.0%} to {max(shares):.0%} to each epoch's time for its measurements "
            f"({len(shares)} turns of {cost['epochs']} full epochs, [reasons.md](docs/reasons.md#the-gap-taken-apart-exactly)); "
            f"`--mixed-precision` makes a batch {faster:.2f} times as fast on this CPU's bfloat16 instructions, and "
            "stays float32 on CPUs without them. On a GPU, and on AVX2-only CPUs: not measured. Why, and every "
            "table: [docs/speed.md](docs/speed.md).")
    return wrap(text)


PROFILES = {"profile-default.json": "the default", "profile-keras-sgd.json": "with Keras's own SGD",
            "profile-keras2.json": "the post's code on Keras 2"}


def profile_block():
    """The step profiles side by side: each layer kind's operations' own milliseconds per training batch, from
    `python -m tools.profile_step --record` in docs/records/."""
    kept = {name: record(file) for file, name in PROFILES.items()}
    names = list(kept)
    lines = [" ".join(f"`{command(profile)}`;" for profile in kept.values()).rstrip(";"), "",
             "| ms a batch, forward + backward | " + " | ".join(names) + " |",
             "| --- |" + " ---: |" * len(names)]
    kinds = list(kept[names[0]]["ms"])
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(f"{sum(profile['ms'][kind].values()):.2f}"
                                               for profile in kept.values()) + " |")
    lines.append("| all operations | " + " | ".join(
        f"{sum(sum(directions.values()) for directions in profile['ms'].values()):.2f}" for profile in kept.values())
        + " |")
    lines.append("| a batch's wall time | " + " | ".join(f"{profile['step_ms']:.1f}" for profile in kept.values()) + " |")
    first = kept[names[0]]
    lines += ["", where_measured(first["measured"], f"; {first['steps']} batches each")]
    return "\n".join(lines)


def leak_timing_block():
    kept = record("leak-timing.json")
    return (f"`python -m tools.leak_timing --rows {kept['rows']} --features {kept['features']}`: "
            f"{kept['training']:,} training and {kept['validation']:,} validation rows of {kept['features']:,} "
            f"values, {kept['seconds']:.1f} s; found {kept['found exact']} of {kept['planted exact']} planted exact and "
            f"{kept['found near']} of {kept['planted near']} planted near copies.\n\n"
            + where_measured(kept["measured"]))


SPLIT_RECORD = os.path.join("docs", "records", "split-check.txt")


def beside_the_post(full):
    """default_run.md's summary under its table: how far the five runs' mean lies from the post's log."""
    mean = mean_history(full)
    shown = sorted(POST_LOG)
    losses = max(abs(mean[key][epoch - 1] - POST_LOG[epoch][key]) for epoch in shown for key in ("loss", "val_loss"))
    accuracy = max(abs(mean["val_accuracy"][epoch - 1] - POST_LOG[epoch]["val_accuracy"]) for epoch in shown
                   if epoch > 20)
    last = shown[-1]
    return wrap(f"The mean of the {len(full)} runs stays within {losses:.3f} of the post's loss and validation loss at "
                f"every epoch the post shows, and its validation accuracy within {accuracy:.3f} of the post's at each "
                f"of epochs 21 to 25. In epoch {last} training ends at {mean['loss'][last - 1]:.4f} against the "
                f"post's {POST_LOG[last]['loss']:.4f}, and the validation loss at {mean['val_loss'][last - 1]:.4f} "
                f"against {POST_LOG[last]['val_loss']:.4f}.")


def split_check_block():
    """Fashion-MNIST's split check as `python -m pyimagesearch.split_check` printed it (its kept output)."""
    with open(os.path.join(ROOT, SPLIT_RECORD)) as file:
        return "```\n" + file.read().rstrip() + "\n```"


def mean_history(histories):
    """The epoch-by-epoch mean of the keys every history holds."""
    keys = set.intersection(*(set(history) for history in histories))
    return {key: list(np.mean([history[key] for history in histories], axis=0)) for key in sorted(keys)}


def full_answer_block(full):
    """The README's reasons paragraph: the answer in words on the full runs' mean history, their accuracy beside
    the post's, and where their curves cross."""
    from lossgap.answer import answer
    from tools.seeds import epoch_staying_above

    accuracy = np.array([history["val_accuracy"][-1] for history in full])
    post = POST["final val_accuracy"]
    below = sum(history["val_loss"][0] < history["loss"][0] for history in full)
    crossing = [epoch_staying_above(history) for history in full]
    generalization = min(min(np.subtract(history["val_loss"], history["train_inference_loss"])) for history in full)
    words = " ".join(answer(mean_history(full)))
    text = (f"On the mean of the {len(full)} full runs above, the answer in words: \"{words}\" Their final validation "
            f"accuracy, {accuracy.mean():.4f} ({accuracy.min():.4f} to {accuracy.max():.4f}), is "
            f"{(accuracy.mean() - post) * 100:.2f} points above the post's {post:.4f} ({(accuracy.min() - post) * 100:.2f} "
            f"to {(accuracy.max() - post) * 100:.2f} points); as in the post, the validation loss starts below the "
            f"training loss ({below} of {len(full)} runs) and ends above it, for good from epoch {min(crossing)} to "
            f"{max(crossing)} on; " + ("generalization is above zero in every epoch of every run." if generalization > 0
                                       else f"generalization's smallest value in any epoch is {generalization:+.3f}."))
    return wrap(text)


def example_block():
    """The worked example's table and answer in words, as the command printed them, and where it ran."""
    from lossgap.answer import in_words
    from lossgap.gaps import format_gaps, mean_gaps
    from lossgap.leaks import find_duplicates
    from tools.provenance import describe

    history = example_history()
    digits = example_data()
    printed = format_gaps(mean_gaps(history)) + [in_words(history, find_duplicates(*digits))]
    with open(os.path.join(ROOT, EXAMPLE_RECORD)) as file:
        runs = json.load(file)["runs"]
    return "```\n" + "\n".join(printed) + "\n```\n\n_" + describe(runs, label=None) + "_"


def example_data():
    """The example's training and validation images, as its fit(validation_split=0.2) splits them."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from lossgap.keras_internals import validation_split_of

    digits = load_digits()
    images = digits.images.reshape((-1, 8, 8, 1)).astype("float32") / 16.0
    x_train = train_test_split(images, digits.target, test_size=0.25, random_state=0)[0]
    training, validation = validation_split_of((x_train,), 0.2)
    return training[0], validation[0]


def blocks():
    """{(page, block name): its Markdown}, every generated block of every page."""
    full, quick, augment = study("full"), study("quick"), study("quick-augment")
    six, six_augment = study("six-epochs"), study("six-epochs-augment")
    epochs = len(full[0]["loss"])
    from lossgap.gaps import format_gaps, mean_gaps

    bfloat16 = study("quick-bf16")
    return {
        ("README.md", "full-run"): readme_full_run(full) + "\n\n" + measured("full"),
        ("README.md", "quick-run"): quick_run_block(quick),
        ("README.md", "full-answer"): full_answer_block(full),
        ("README.md", "speed"): speed_summary_block(),
        **{("docs/speed.md", name): benchmark_table(record(file)) for name, file in SPEED_RECORDS.items()
           if name != "speed-whole-runs"},
        ("docs/speed.md", "speed-whole-runs"): whole_runs_table(record(SPEED_RECORDS["speed-whole-runs"])),
        ("docs/speed.md", "leak-timing"): leak_timing_block(),
        ("docs/speed.md", "profile"): profile_block(),
        ("docs/reasons.md", "diagnostics-cost"): diagnostics_cost_block(),
        ("docs/reasons.md", "explain-cost"): explain_cost_block(),
        ("docs/reasons.md", "split-check"): split_check_block(),
        ("docs/explain.md", "digits-terms"): example_block(),
        ("docs/speed.md", "mixed-precision"): precision_table(quick[:len(bfloat16)], bfloat16) + "\n\n"
        + measured("quick", "quick-bf16"),
        ("docs/reasons.md", "sampling"): sampling_table() + "\n\n" + measured("sampling"),
        ("docs/default_run.md", "every-epoch"): every_epoch(full) + "\n\n" + measured("full") + "\n\n"
        + beside_the_post(full),
        ("docs/reasons.md", "full-terms"): terms_table(
            full, [("epoch 1", slice(0, 1)), ("epochs 1-3", slice(0, 3)), (f"all {epochs} epochs", slice(None)),
                   ("last 5 epochs", slice(-5, None))], 4, f"mean over seeds 0-{len(full) - 1} (min to max)")
        + "\n\n" + measured("full"),
        ("docs/reasons.md", "quick-terms"): terms_table(
            quick, [("epoch 1", slice(0, 1)), ("epoch 2", slice(1, 2))], 3,
            f"mean over seeds 0-{len(quick) - 1} (min to max)") + "\n\n" + measured("quick"),
        ("docs/reasons.md", "augment-quick"): comparison_table(
            [("epoch 1, without", quick, slice(0, 1)), ("epoch 1, with `--augment`", augment, slice(0, 1)),
             ("epoch 2, without", quick, slice(-1, None)), ("epoch 2, with `--augment`", augment, slice(-1, None))],
            3, f"mean over seeds 0-{len(quick) - 1} (min to max)") + "\n\n" + measured("quick", "quick-augment"),
        ("docs/reasons.md", "augment-six"): comparison_table(
            [("epoch 6, without", six, slice(-1, None)), ("epoch 6, with `--augment`", six_augment, slice(-1, None)),
             ("epochs 2-6, without", six, slice(1, 6)), ("epochs 2-6, with `--augment`", six_augment, slice(1, 6))],
            3, f"mean over seeds 0-{len(six) - 1} (min to max)") + "\n\n" + measured("six-epochs",
                                                                                      "six-epochs-augment"),
    }


def begin_marker(name):
    return f"<!-- begin: {name} (python -m tools.docs) -->"


def end_marker(name):
    return f"<!-- end: {name} -->"


def with_block(text, name, block, page):
    """`text` with the lines between block `name`'s markers replaced by `block`."""
    begin, end = begin_marker(name), end_marker(name)
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise UserError(f"{page} needs one {begin!r} line and, after it, one {end!r} line")
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{block}\n{end}{tail}"


def pages():
    """{path relative to the repository: its text as the kept studies give it}, pages and studies' summaries."""
    result = {}
    for (page, name), block in blocks().items():
        if page not in result:
            with open(os.path.join(ROOT, page)) as file:
                result[page] = file.read()
        result[page] = with_block(result[page], name, block, page)
    for name, runs in RUNS.items():
        folder = os.path.join(ROOT, STUDIES, name)
        summary, _ = study_summary(folder, runs)
        result[os.path.join(STUDIES, name, "summary.md")] = summary
    return result


def figures():
    """{path relative to the repository: matplotlib Figure}, each study's seeds.png."""
    from lossgap.plots import plot_study

    result = {os.path.join(STUDIES, name, "seeds.png"): plot_study(study(name)) for name in RUNS}
    result[EXAMPLE + ".png"] = plot_study([example_history()])
    return result


def main():
    parser = argparse.ArgumentParser(prog="python -m tools.docs",
                                     description="Rebuild the docs' tables and figures from the kept studies.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; list the pages that differ and exit 1 if any do (default: rewrite)")
    args = parser.parse_args()
    differ = []
    for path, text in pages().items():
        full_path = os.path.join(ROOT, path)
        current = open(full_path).read() if os.path.isfile(full_path) else None
        if current == text:
            continue
        differ.append(path)
        if not args.check:
            payload = text.encode()
            write_atomically(full_path, lambda file: file.write(payload))
    if args.check:
        if differ:
            raise UserError(f"these differ from what the kept studies give: {', '.join(differ)}; run python -m "
                            "tools.docs")
        print("[INFO] every generated table matches the kept studies")
        return
    for path, figure in figures().items():
        write_atomically(os.path.join(ROOT, path), lambda file: figure.savefig(file, format="png"),
                         suffix=".png")
    print(f"[INFO] rewrote {len(differ)} page{'s' * (len(differ) != 1)} and drew {len(RUNS) + 1} figures from the "
          "kept studies and the example")


if __name__ == "__main__":
    run(main)
