"""fashion_mnist.ipynb: its commands name flags that exist (quick), and it runs headless from top to bottom (-m
notebook, as CI runs it)."""
import os
import re
import shlex

import pytest

from tests.conftest import ROOT

NOTEBOOK = os.path.join(ROOT, "fashion_mnist.ipynb")


def code_cells():
    import json

    with open(NOTEBOOK) as file:
        notebook = json.load(file)
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def commands():
    """Each `!{sys.executable} ...` line, its {NAME} variables filled in from the notebook's own assignments."""
    source = "\n".join(code_cells())
    variables = dict(re.findall(r'^(\w+) = "([^"]*)"', source, flags=re.M))
    lines = [line[len("!{sys.executable} "):] for line in source.splitlines() if line.startswith("!{sys.executable} ")]
    return [shlex.split(re.sub(r"\{(\w+)\}", lambda match: variables[match.group(1)], line)) for line in lines]


def parser_of(program):
    """The argument parser of a command's program, as the program builds it."""
    import importlib.util

    if program == ["-m", "pyimagesearch.reasons.split_check"]:
        return None
    if program[0] == "explain.py":
        from pyimagesearch.reasons.explain import argument_parser

        return argument_parser()
    spec = importlib.util.spec_from_file_location(program[0].removesuffix(".py"), os.path.join(ROOT, program[0]))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.argument_parser()


def test_the_notebooks_commands_name_flags_that_exist():
    found = commands()
    assert [tokens[0] for tokens in found] == ["fashion_mnist.py", "plot_shift.py", "fashion_mnist.py", "plot_shift.py",
                                               "-m", "fashion_mnist.py", "explain.py"]
    for tokens in found:
        program, arguments = (tokens[:2], tokens[2:]) if tokens[0] == "-m" else (tokens[:1], tokens[1:])
        parser = parser_of(program)
        if parser is None:
            assert arguments == []
            continue
        parser.exit_on_error = False
        parser.parse_args(arguments)  # raises on a flag the program does not have


def test_the_notebook_is_saved_without_outputs():
    import json

    with open(NOTEBOOK) as file:
        cells = json.load(file)["cells"]
    assert all(cell.get("outputs", []) == [] and cell.get("execution_count") is None for cell in cells
               if cell["cell_type"] == "code")


@pytest.mark.notebook
def test_the_notebook_runs_from_top_to_bottom_with_the_quick_settings(tmp_path):
    import nbclient
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {
        "path": ROOT}})
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 3  # the shifted plot, the diagnostics, the example of one's own script
    text = "".join(output.get("text", "") for output in outputs)
    assert "[INFO] serializing training history..." in text and "reason 1 (dropout)" in text
    assert "exact duplicates across splits: 0" in text
