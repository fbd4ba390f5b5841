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
    """An argument parser that takes the program's flags: fashion_mnist.py's are the post's --history and
    pyimagesearch/runs/flags.py's; plot_shift.py's the post's --input and its --output."""
    import argparse

    if program == ["-m", "pyimagesearch.split_check"]:
        return None
    if program == ["-m", "lossgap"]:
        from lossgap.explain import argument_parser

        return argument_parser()
    parser = argparse.ArgumentParser()
    if program == ["fashion_mnist.py"]:
        from pyimagesearch.runs.flags import add_run_flags

        parser.add_argument("-i", "--history", required=True)
        return add_run_flags(parser)
    assert program == ["plot_shift.py"], program
    parser.add_argument("-i", "--input", required=True)
    parser.add_argument("-o", "--output")
    return parser


def test_the_notebooks_commands_name_flags_that_exist_and_write_files_of_its_own():
    found = commands()
    assert [tokens[0] for tokens in found] == ["fashion_mnist.py", "plot_shift.py", "fashion_mnist.py", "plot_shift.py",
                                               "-m", "fashion_mnist.py", "-m"]
    for tokens in found:
        if tokens[:3] == ["-m", "lossgap", "explain"]:
            tokens = tokens[:2] + tokens[3:]
        program, arguments = (tokens[:2], tokens[2:]) if tokens[0] == "-m" else (tokens[:1], tokens[1:])
        parser = parser_of(program)
        if parser is None:
            assert arguments == []
            continue
        parser.exit_on_error = False
        args = parser.parse_args(arguments)  # raises on a flag the program does not have
        for written in (getattr(args, name, None) for name in ("history", "output")):
            assert written is None or written.startswith("notebook"), written  # never the README's files


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
    assert "[INFO] serializing training history..." in text and "dropout (reason 1)" in text
    assert "across the splits: 0 of 10,000 test examples are exact copies" in text
