"""The notebooks run headless, top to bottom, on a fresh sample record, from any directory.

Each notebook is executed with nbclient (kernel "python3") against one sample
database built once per test session, given to the kernel as `SLIDO_DB`, with a
fresh, empty working directory. The committed files must carry no outputs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from toolkit.demo import run_demo
from toolkit.sample.generate import SampleInfo

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = (
    "01_quickstart",
    "02_qa_and_moderation",
    "03_polls",
    "04_sql_and_audit_report",
)
CELL_TIMEOUT = 120
EXTERNAL_RESOURCE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|<script""", re.I)


@pytest.fixture(scope="session")
def notebook_db(sample_dataset: SampleInfo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample record (3 sessions, 3,000 events) synced through the sandbox, built once."""
    folder = tmp_path_factory.mktemp("notebook-db")
    result = run_demo(
        db_path=folder / "compliance.duckdb",
        report_dir=folder / "reports",
        dataset=sample_dataset.out_dir,
    )
    return result.db_path


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=nbformat.NO_CONVERT)


def kernel_env(tmp_path: Path, slido_db: Path | None) -> dict[str, str]:
    """The kernel's environment: ours, with SLIDO_DB as given and temp files under tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in ("SLIDO_DB", "MPLBACKEND")}
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env["TMPDIR"] = str(scratch)
    if slido_db is not None:
        env["SLIDO_DB"] = str(slido_db)
    return env


def execute(nb: nbformat.NotebookNode, cwd: Path, env: dict[str, str]) -> None:
    """Run every cell in a fresh kernel started in `cwd`; raise on the first error."""
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=env)


def outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def first_code_cell(nb: nbformat.NotebookNode) -> str:
    return next(cell.source for cell in nb.cells if cell.cell_type == "code")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_error_from_an_empty_directory(
    name: str, notebook_db: Path, tmp_path: Path
) -> None:
    nb = read(name)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    execute(nb, cwd, kernel_env(tmp_path, notebook_db))

    produced = outputs(nb)
    assert not [out for out in produced if out.output_type == "error"]
    assert any("image/png" in out.get("data", {}) for out in produced), "no chart was drawn"
    html = [out.data["text/html"] for out in produced if "text/html" in out.get("data", {})]
    assert not [h for h in html if EXTERNAL_RESOURCE.search(h)], "an output loads a URL"
    assert list(cwd.iterdir()) == [], "the notebook wrote into its working directory"


def test_bootstrap_builds_the_sample_record_when_slido_db_is_unset(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(first_code_cell(read(NOTEBOOKS[0]))),
        nbformat.v4.new_code_cell(
            "assert Path(DB_PATH).is_file()\n"
            "assert toolkit.sessions(rec).height == 3\n"
            "print(DB_PATH)"
        ),
    ]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = kernel_env(tmp_path, None)
    execute(nb, cwd, env)

    printed = "".join(out.get("text", "") for out in outputs(nb) if out.output_type == "stream")
    assert env["TMPDIR"] in printed, "the sample record was not built in a temporary folder"
    assert list(cwd.iterdir()) == []


def test_notebooks_share_one_bootstrap_cell() -> None:
    cells = {name: first_code_cell(read(name)) for name in NOTEBOOKS}
    assert len(set(cells.values())) == 1, "the first code cell differs between notebooks"
    bootstrap = cells[NOTEBOOKS[0]]
    assert 'os.environ.get("SLIDO_DB")' in bootstrap
    assert "rec = toolkit.open(DB_PATH)" in bootstrap


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_with_outputs_cleared(name: str) -> None:
    nb = read(name)
    nbformat.validate(nb)
    for cell in nb.cells:
        where = f"{name}.ipynb cell {cell.get('id')}"
        assert "execution" not in cell.metadata, f"{where} keeps execution timestamps"
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{where} has outputs; run 'make notebooks'"
            assert cell.execution_count is None, f"{where} has an execution count"


def test_every_notebook_is_listed_in_the_readme() -> None:
    readme = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    on_disk = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    assert on_disk == sorted(NOTEBOOKS)
    for name in NOTEBOOKS:
        assert f"{name}.ipynb" in readme
