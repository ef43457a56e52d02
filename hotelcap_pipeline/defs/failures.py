"""Why a run failed, in lines a person can act on: failed blocking checks, step errors and resources that
would not start.

Expected conditions (a model or dataset that cannot be had, a bad input file) are one line each, without
a traceback; an unexpected error keeps its traceback. The most useful line comes last, so it is what a
terminal shows at the end of the run.
"""

from __future__ import annotations

import re
from typing import Any

import dagster as dg

# Errors whose message already says what happened and what to set: shown without a traceback.
EXPECTED_ERRORS = frozenset(
    {
        "ModelUnavailableError",
        "MissingModelFileError",
        "DatasetError",
        "DownloadError",
        "UnsafeArchiveError",
        "InputFileError",
        "SamplingError",
        "UnknownTagError",
        "DeviceError",
    }
)


def _innermost(error: Any) -> Any:
    """The error to report: the first expected one down the cause chain (it says what to set, where the
    library error it wraps does not), else the innermost (Dagster wraps the step's own error)."""
    while error.cls_name not in EXPECTED_ERRORS and getattr(error, "cause", None) is not None:
        error = error.cause
    return error


# One problem of a pydantic ValidationError: the field's location, then its message indented by two spaces,
# ending in "[type=..., input_value=..., ...]".
_PYDANTIC_PROBLEM = re.compile(r"^(\S[^\n]*)\n  (\S[^\n]*?)(?: \[type=[^,\]]*(?:, input_value=([^,\]]*))?[^\]]*\])?$",
                               re.MULTILINE)


def _message(error: Any) -> str:
    """The error's own message (its first line), without the module-qualified class name before it. A run
    config that breaks a field's bounds (pydantic) also names the field, the rule and the value given."""
    text = (error.message or "").strip()
    first = text.split("\n", 1)[0]
    first = re.sub(rf"^[\w.]*{re.escape(error.cls_name or '')}: ", "", first) or error.cls_name or "unknown error"
    if error.cls_name == "ValidationError":
        problems = [f"{field}: {why}" + (f" (given {given})" if given else "")
                    for field, why, given in _PYDANTIC_PROBLEM.findall(text)]
        if problems:
            return f"{first}: {'; '.join(problems)}"
    return first


def failure_report(result: Any) -> tuple[list[str], str]:
    """(detail lines, the one-line reason) of a failed ``execute_in_process`` result."""
    details: list[str] = []
    reasons: list[str] = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                continue
            key = evaluation.asset_check_key
            problems = evaluation.metadata.get("problems")
            reason = evaluation.description or (problems.value if problems is not None else "failed")
            reasons.append(f"check {key.asset_key.to_user_string()}:{key.name} failed: {reason}")
        elif event.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE and event.event_specific_data.error:
            # A resource that would not start (a run config value out of bounds): no step ran to say why.
            reasons.append(f"resources: {_message(_innermost(event.event_specific_data.error))}")
        elif event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            inner = _innermost(error)
            if inner.cls_name == "DagsterAssetCheckFailedError":
                continue  # the check's own line says why
            if inner.cls_name not in EXPECTED_ERRORS:
                details.append(error.to_string())
            reasons.append(f"{event.step_key}: {_message(inner)}")
    if not reasons:
        return details, "the run failed; see the Dagster UI's run page for its events"
    # Checks first: a check's reason names what the stage produced; step lines follow.
    return details + reasons[1:], reasons[0]
