"""Makes the packages named in $HIDE_MODULES (comma-separated) look not installed, as TensorFlow is on Python 3.14:
`import` fails and `importlib.util.find_spec` returns None. Put this folder first on PYTHONPATH to use it; the tests
and .ci/run do so to run the project without TensorFlow (or without any backend) on a machine that has them."""
import importlib.machinery
import os
import sys

HIDDEN = {name for name in os.environ.get("HIDE_MODULES", "").split(",") if name}


class HidingPathFinder:
    """Python's own path finder, finding nothing for the hidden packages and their submodules."""

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, name):  # invalidate_caches, find_distributions: as Python's own
        return getattr(self.finder, name)


if HIDDEN:
    sys.meta_path[:] = [HidingPathFinder(finder) if finder is importlib.machinery.PathFinder else finder
                        for finder in sys.meta_path]
