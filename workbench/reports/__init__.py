"""Report notebooks: run with papermill, rendered to self-contained HTML, recorded, re-run."""
from .runner import (REPORTS, ReportFailedError, ReportRun, available_reports, delete_report, describe_charts,
                     get_report, list_reports, render_html, report_parameters, rerun_report, run_report)

__all__ = ["REPORTS", "ReportRun", "ReportFailedError", "available_reports", "report_parameters", "run_report",
           "rerun_report", "render_html", "describe_charts", "list_reports", "get_report", "delete_report"]
