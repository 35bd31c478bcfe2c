"""nbconvert configuration for workbench reports: code hidden, the verdict first, plots inline, no JavaScript.

`workbench ci` loads it (and points `extra_template_basedirs` at the absolute `templates/` folder). By hand:
    jupyter nbconvert --to html --config nbconvert-config/report_config.py reports/support-gate.ipynb
"""

from nbconvert.preprocessors import Preprocessor

from workbench.widgets.verdict import VERDICT_MIME, VerdictRecord, headline

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

VERDICT_TAG, ERROR_TAG = "verdict", "papermill-error-cell-tag"


class ReportOrder(Preprocessor):
    """Papermill's error banner first, then cells tagged `verdict`, then the rest in order; the report title from
    the notebook's parameters (candidate against baseline); no widget state (a report has no live widgets, each
    widget output carries its own static HTML)."""

    def preprocess(self, nb, resources):
        def rank(item):
            index, cell = item
            tags = cell.get("metadata", {}).get("tags", [])
            return 0 if (index == 0 and ERROR_TAG in tags) else 1 if VERDICT_TAG in tags else 2

        nb.cells = [cell for _, cell in sorted(enumerate(nb.cells), key=rank)]
        nb.metadata.pop("widgets", None)
        records = [
            o["data"][VERDICT_MIME]
            for cell in nb.cells
            for o in cell.get("outputs", [])
            if VERDICT_MIME in o.get("data", {})
        ]
        if records:  # the header states the gate's verdict, with what could not be decided and why
            record = VerdictRecord.of(records[-1])
            nb.metadata["workbench_verdict"] = {
                "headline": headline(record),
                "verdict": record.verdict,
                "lines": record.lines(),
            }
        params = nb.metadata.get("papermill", {}).get("parameters", {})
        name = resources.get("metadata", {}).get("name", "report")
        if params.get("candidate"):
            baseline = params.get("baseline") or "production"
            nb.metadata["title"] = f"{name}: {params['candidate']} against {baseline}"
        else:
            nb.metadata.setdefault("title", name)
        return nb, resources


c.HTMLExporter.template_name = "workbench"
c.HTMLExporter.extra_template_basedirs = ["nbconvert-config/templates"]
c.HTMLExporter.exclude_input = True  # code hidden by default (workbench ci --show-code shows it)
c.HTMLExporter.exclude_input_prompt = True
c.HTMLExporter.exclude_output_prompt = True
c.HTMLExporter.embed_images = True
c.HTMLExporter.preprocessors = [ReportOrder]
# Static outputs only: the widgets' text/html fallback before their live view (which would need a kernel and
# JavaScript from a CDN), and never application/javascript.
c.NbConvertBase.display_data_priority = [
    "text/html",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/markdown",
    "text/latex",
    "text/plain",
]
# A cell tagged `report-hide` stays in the notebook and out of the report.
c.TagRemovePreprocessor.enabled = True
c.TagRemovePreprocessor.remove_cell_tags = {"report-hide"}
