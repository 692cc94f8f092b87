"""`rcaudit audit`'s cell log (run.log) borrows the papermill and py.warnings loggers for the run and gives
them back as they were: a process that audits, then goes on (a test session, an app embedding rcaudit), keeps
seeing library warnings through its own logging."""

from __future__ import annotations

import logging
from pathlib import Path

from rcaudit.runner import RUN_LOG, _cell_log


def test_the_warnings_logger_propagates_again_after_a_quiet_run(tmp_path: Path) -> None:
    warnings_logger, papermill = logging.getLogger("py.warnings"), logging.getLogger("papermill")
    before = (warnings_logger.propagate, papermill.propagate, papermill.level)
    with _cell_log(tmp_path, verbose=False):
        papermill.info("a cell's output")
    assert (warnings_logger.propagate, papermill.propagate, papermill.level) == before
    assert "a cell's output" in (tmp_path / RUN_LOG).read_text(encoding="utf-8")
