"""Rule files -> validated rules -> durable_rules (+ reference evaluator) -> conclusions.

Pure: imports nothing of the store, the services or the workbooks."""

from ikcheck.engine.evaluate import Conclusion, EngineMismatch, Evaluation, evaluate
from ikcheck.engine.rules import Rule, Ruleset, load, load_dir, parse

__all__ = ["Conclusion", "EngineMismatch", "Evaluation", "Rule", "Ruleset", "evaluate", "load",
           "load_dir", "parse"]
