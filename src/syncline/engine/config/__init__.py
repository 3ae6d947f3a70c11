"""Declarative configuration: project files applied to the store by ``syncline apply``.

* :mod:`~syncline.engine.config.model` — the file's shape and
  :class:`PipelineConfig`, what a pipeline's ``config`` holds in the store;
* :mod:`~syncline.engine.config.loader` — YAML with line numbers, ``${VAR}``;
* :mod:`~syncline.engine.config.project` — connections and settings checked;
* :mod:`~syncline.engine.config.pipelines` — pipelines checked against the
  connectors and the store;
* :mod:`~syncline.engine.config.plan` — the plan (create/update/unchanged) and
  the writes.

The names below are imported from their submodule on first use, so that code
needing only :class:`PipelineConfig` (every pipeline run imports
``syncline.engine.config.model``, which imports this package first) does not
load the YAML reader, the plan and the checks of ``syncline apply``.

The file format is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syncline.engine.config.issues import ConfigFileError, Issue
    from syncline.engine.config.model import PipelineConfig
    from syncline.engine.config.pipelines import SchemaCheck
    from syncline.engine.config.plan import (
        Change,
        Plan,
        apply_plan,
        apply_project,
        plan_project,
    )

__all__ = [
    "Change",
    "ConfigFileError",
    "Issue",
    "PipelineConfig",
    "Plan",
    "SchemaCheck",
    "apply_plan",
    "apply_project",
    "plan_project",
]

_SUBMODULE = {
    "ConfigFileError": "issues",
    "Issue": "issues",
    "PipelineConfig": "model",
    "SchemaCheck": "pipelines",
    "Change": "plan",
    "Plan": "plan",
    "apply_plan": "plan",
    "apply_project": "plan",
    "plan_project": "plan",
}


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULE.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
