"""Airflow DAG: the audit notebook run by papermill's operator, then the ticket text, the gate and retention.

Copy into the DAGs folder of a worker that has rcaudit installed (`pip install rcaudit` into Airflow's
environment, plus `apache-airflow-providers-papermill`). Secrets are never operator arguments: papermill
writes every parameter into the executed notebook, so the RCAUDIT_* settings reach the kernel through the
worker's environment (e.g. a secrets backend such as Azure Key Vault exporting them). Written for Airflow 2
(`airflow.operators.bash`; Airflow 3 moved it to `airflow.providers.standard.operators.bash`).

This path runs the notebook directly, so it writes audit.ipynb, findings, summary.json and summary.md; to also
get report.html and the RCAUDIT_NOTIFY_URLS notifications, run `rcaudit audit` in a BashOperator instead.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.providers.papermill.operators.papermill import PapermillOperator

import rcaudit

NOTEBOOK = str(Path(rcaudit.__file__).resolve().parent.parent / "notebooks" / "audit.ipynb")
OUTPUTS = "/var/lib/rcaudit/outputs"  # the worker's RCAUDIT_OUTPUTS
RUN = OUTPUTS + "/{{ ts_nodash }}Z-af01"  # a run id per DAG run (timestamp + suffix, as rcaudit names them)

with DAG(
    dag_id="rcaudit_daily_audit",
    schedule="15 6 * * 1-5",  # weekdays 06:15 UTC
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    tags=["rcaudit", "identity"],
) as dag:
    run_folder = BashOperator(task_id="run_folder", bash_command=f"mkdir -p -m 700 {RUN}")
    audit = PapermillOperator(
        task_id="audit",
        input_nb=NOTEBOOK,
        output_nb=RUN + "/audit.ipynb",
        parameters={"source": "environment", "run_folder": RUN, "mask_pii": True, "fail_on": "high"},
        kernel_name="python3",
    )
    ticket = BashOperator(task_id="ticket_text", bash_command=f"rcaudit summary --run {RUN}")
    gate = BashOperator(  # fails the DAG run when the verdict is `fail` (an unwaived finding at or above high)
        task_id="gate",
        bash_command=f"python -c \"import json, sys; "
                     f"sys.exit(json.load(open('{RUN}/summary.json'))['verdict'] == 'fail')\"",
    )
    retention = BashOperator(task_id="retention", bash_command="rcaudit runs --prune --keep 30 --apply",
                             trigger_rule="all_done")
    run_folder >> audit >> ticket >> gate >> retention
