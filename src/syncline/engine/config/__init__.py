"""Declarative configuration: project files applied to the store by ``syncline apply``.

* :mod:`~syncline.engine.config.model` — the file's shape and
  :class:`PipelineConfig`, what a pipeline's ``config`` holds in the store;
* :mod:`~syncline.engine.config.loader` — YAML with line numbers, ``${VAR}``;
* :mod:`~syncline.engine.config.project` — connections and settings checked;
* :mod:`~syncline.engine.config.pipelines` — pipelines checked against the
  connectors and the store;
* :mod:`~syncline.engine.config.plan` — the plan (create/update/unchanged) and
  the writes.

The file format is documented in ``docs/configuration.md``.
"""

from syncline.engine.config.issues import ConfigFileError, Issue
from syncline.engine.config.model import PipelineConfig
from syncline.engine.config.pipelines import SchemaCheck
from syncline.engine.config.plan import Change, Plan, apply_plan, apply_project, plan_project

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
