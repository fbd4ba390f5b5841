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


def keep(path, record, backend):
    """Write `record` (a dict) to `path` as JSON, atomically, with where it was measured under "measured"."""
    import json

    from lossgap.files import write_atomically

    record = {**record, "measured": {"date": now(), "machine": machine(), "versions": versions(backend),
                                     "commit": commit()}}
    payload = (json.dumps(record, indent=1) + "\n").encode()
    write_atomically(path, lambda file: file.write(payload))


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
    """The repository's commit, with "+changes" when tracked Python files differ from it; None outside a git clone."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        # code only: a study's own histories and records in docs/ are not the code it ran on
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "*.py"], cwd=root,
                                 capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+changes" if changed.stdout.strip() else "")


BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


def run_summary(parts):
    """(date, where, code, wall seconds or None) of a run from its parts (a run stopped and resumed has several)."""
    first = parts[0]
    date = first.get("date") or first["started"][:10]
    machine, versions = first["machine"], first["versions"]
    backend = versions.get("backend")
    software = ", ".join([f"Python {versions['python']}"]
                         + [f"{BACKEND_NAMES[backend]} {versions[package]}" for package in PACKAGES.get(backend, ())
                            if package in versions and package != "jaxlib"]
                         + [f"Keras {versions['keras']}"])
    where = f"{machine['cpu']}, {machine['cpus']} CPUs, {software}"
    commits = sorted({(part.get("commit") or "")[:7] + ("+changes" if "+changes" in (part.get("commit") or "") else "")
                      for part in parts})
    code = f"commit {', '.join(commits)}" if all(commits) else "code not recorded"
    if "numpy" in versions:
        code += f", numpy {versions['numpy']}"
    walls = [part.get("wall_seconds") for part in parts]
    wall = sum(walls) if all(wall is not None for wall in walls) else None
    if len(parts) > 1:
        code += f", in {len(parts)} parts (stopped and resumed)"
    return date, where, code, wall


def describe(runs, label="seed"):
    """One sentence: where and on what each group of runs was measured, from a study's {name: parts}."""
    groups = []
    for name, parts in runs.items():
        date, where, code, wall = run_summary(parts)
        if groups and groups[-1][1:4] == (date, where, code):
            groups[-1][0].append(name)
            groups[-1][4].append(wall)
        else:
            groups.append(([name], date, where, code, [wall]))

    def names(members):
        if label is None:
            return ", ".join(members)
        if all(member.isdigit() for member in members):
            numbers = [int(member) for member in members]
            if numbers == list(range(numbers[0], numbers[-1] + 1)) and len(numbers) > 1:
                return f"{label}s {numbers[0]}-{numbers[-1]}"
        return f"{label}{'s' * (len(members) > 1)} {', '.join(members)}"

    same_place = len({group[2] for group in groups}) == 1
    sentences = []
    for members, date, where, code, walls in groups:
        text = f"{names(members)}: {date}, {'' if same_place else where + ', '}{code}"
        if all(wall is not None for wall in walls):
            text += ", " + " and ".join(_duration(wall) for wall in walls) + " of wall time"
        sentences.append(text)
    return "Measured on " + groups[0][2] + ("; " if same_place else ". ") + "; ".join(sentences) + "."


def _duration(seconds):
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
