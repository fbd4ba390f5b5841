"""Why is *my* validation loss lower? Run your own Keras training script, unchanged, with the gap of every fit() split
into the post's reasons ("Why is my validation loss lower than my training loss?", PyImageSearch, 2019).

    python explain.py train.py --its --arguments                       # in this repository's folder
    python path/to/this/repository/explain.py train.py --its --arguments   # in your project's folder

The script runs as `python train.py --its --arguments` would; each fit() that validates prints the terms of its gap
and saves its history and figure in train-explained/ (pyimagesearch/reasons/explain.py says what is measured and
how). This file loads the repository's package under a name of its own, so that your script's `import pyimagesearch`
(the post's download ships one) finds yours.
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "_pyimagesearch_explain"


def load_package():
    """This repository's pyimagesearch package as PACKAGE, leaving the name `pyimagesearch` to the reader's."""
    folder = os.path.join(HERE, "pyimagesearch")
    spec = importlib.util.spec_from_file_location(PACKAGE, os.path.join(folder, "__init__.py"),
                                                  submodule_search_locations=[folder])
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return package


if __name__ == "__main__":
    load_package()
    errors = importlib.import_module(f"{PACKAGE}.runs.errors")
    explain = importlib.import_module(f"{PACKAGE}.reasons.explain")
    errors.run(explain.main)
