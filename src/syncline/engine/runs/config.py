"""What a run reads from its pipeline's stored configuration, and its retry bounds.

The pipeline's ``config`` is a :class:`syncline.engine.config.model.PipelineConfig`
(filter, mapping, options per side, batch size, schedule, overlap, purge, export
mode and matching property); :func:`run_config` parses it and turns a bad one
into :class:`PipelineConfigError`, naming the pipeline and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError

from syncline.engine.config.model import PipelineConfig
from syncline.store import Pipeline

__all__ = ["PipelineConfigError", "RetrySettings", "run_config"]


class PipelineConfigError(ValueError):
    """A pipeline cannot run as configured; the message says which key and what to do."""


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """Bounded retries of retryable write failures: ``attempts`` tries in all.

    The wait before retry round ``n`` is drawn between half and all of
    ``min(maximum, initial * 2**(n-1))`` (jitter keeps workers apart), or is the
    ``retry_after`` the app asked for when that is longer.
    """

    attempts: int = 5
    initial: timedelta = timedelta(seconds=1)
    maximum: timedelta = timedelta(seconds=30)


def run_config(pipeline: Pipeline) -> PipelineConfig:
    """The pipeline's parsed config; ``PipelineConfigError`` names the bad keys."""
    try:
        return PipelineConfig.of(pipeline.config or {})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "config"
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                message = "is not a pipeline setting"
            problems.append(f"{where}: {message}")
        raise PipelineConfigError(
            f"pipeline {pipeline.name!r} has an invalid stored configuration ("
            + "; ".join(problems)
            + "); fix it in the project file and run `syncline apply`"
        ) from None
