"""The exploratory notebook runs top to bottom on the demo sample, so it cannot rot."""

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow


def test_data_quality_notebook_executes(project_copy):
    path = project_copy / "notebooks" / "01_data_quality.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(figures) == 3  # completeness, fatal rate by circumstance, over time
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "raw rows, 31 columns" in text
    # The pipeline ran inside the copy, through its catalog.
    assert (project_copy / "data/08_reporting/data_quality_report.json").exists()
