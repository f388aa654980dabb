"""The Questionnaire engine: populate, enable, validate, prune and extract. Checklists are data in checklists/."""

from .answers import (
    LONDON,
    REPEAT_COUNT_PREFIX,
    answer_text,
    apply_form,
    coding_key,
    input_value,
    label,
    option_codings,
)
from .enable_when import enabled_paths
from .expressions import ExpressionError
from .extensions import is_help, is_hidden, max_occurs, min_occurs
from .extract import OBSERVATION_ID_SYSTEM, extract_observations
from .focus import Focus, FocusRule, focus_finder, load_focus_rules
from .lint import Problem, lint_checklists
from .load import CHECKPOINTS, Checklists, load_checklists
from .measures import SECTIONS as MEASURE_SECTIONS
from .measures import Measure, load_measures
from .populate import Populated, add_repeats, canonical, populate, repeat_key, with_every_item
from .readout import Line, answered_lines
from .refresh import Change, changes, take
from .signatures import AUTHOR, VERIFIER, missing_signatures, signature
from .tasks import TASK_ID_SYSTEM, RaisedTask, TaskRule, load_task_rules, raised_tasks, task_resource
from .tree import Node, definitions, walk
from .validate import DEFAULT_MAX_LENGTH, Issue, prune, validate

__all__ = [
    "AUTHOR",
    "CHECKPOINTS",
    "DEFAULT_MAX_LENGTH",
    "LONDON",
    "MEASURE_SECTIONS",
    "OBSERVATION_ID_SYSTEM",
    "REPEAT_COUNT_PREFIX",
    "TASK_ID_SYSTEM",
    "VERIFIER",
    "Change",
    "Checklists",
    "ExpressionError",
    "Focus",
    "FocusRule",
    "Issue",
    "Line",
    "Measure",
    "Node",
    "Populated",
    "Problem",
    "RaisedTask",
    "TaskRule",
    "add_repeats",
    "answer_text",
    "answered_lines",
    "apply_form",
    "canonical",
    "changes",
    "coding_key",
    "definitions",
    "enabled_paths",
    "extract_observations",
    "focus_finder",
    "input_value",
    "is_help",
    "is_hidden",
    "label",
    "lint_checklists",
    "load_checklists",
    "load_focus_rules",
    "load_measures",
    "load_task_rules",
    "max_occurs",
    "min_occurs",
    "missing_signatures",
    "option_codings",
    "populate",
    "prune",
    "raised_tasks",
    "repeat_key",
    "signature",
    "take",
    "task_resource",
    "validate",
    "walk",
    "with_every_item",
]
