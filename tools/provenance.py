"""Where and on what a number was measured: the machine, the versions and the code, read off when a run starts, so
that a table built from kept runs says where they came from without anyone typing it."""
import datetime
import importlib.metadata
import os
import platform
import subprocess

from pyimagesearch.speed.cpu import cpu_features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the packages whose versions change what a run computes, by the backend Keras runs on
PACKAGES = {"tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib"), "torch": ("torch",)}


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def cpu_model(cpuinfo="/proc/cpuinfo"):
    """The processor as the kernel names it, with its family and model numbers (x86); else what Python says."""
    try:
        with open(cpuinfo) as file:
            fields = dict(line.split(":", 1) for line in file if ":" in line)
    except OSError:
        return platform.processor() or platform.machine()
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    name = fields.get("model name", platform.machine())
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def machine(cpus=None):
    """The CPU, its features that decide MiniVGGNet's speed, and the number of CPUs the run may use (`cpus`, else
    this process's)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "features": sorted(cpu_features()), "cpus": cpus, "system": platform.system()}


def installed_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions(backend):
    """Python's version, the backend Keras runs on, and the versions of Keras, numpy and the backend's packages."""
    installed = {}
    for package in ("keras", "numpy", "scikit-learn", *PACKAGES.get(backend, ())):
        try:
            installed[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {"python": platform.python_version(), "backend": backend, **installed}


def commit(root=ROOT):
    """The repository's commit, with "+changes" when tracked files differ from it; None outside a git clone."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                 capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+changes" if changed.stdout.strip() else "")
