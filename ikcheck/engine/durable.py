"""durable_rules behind the recipe measured to be correct (ENGINE-NOTES.md).

No Host and no background threads: the C engine is driven directly. One compiled ruleset per content
hash, created once and reused; one lock per compiled ruleset; a fresh `sid` per batch; `id=str(i)` on
every fact (collision-free fact identity); blocker fact types asserted first; one `assert_facts` call
(result 1, "some fact matched nothing", is normal); every action drained synchronously; the sentinel
rule fires last; then `delete_state`. If anything fails while draining, the rest is still drained and
the state deleted before the error is raised, so no state is ever left behind.
"""

from __future__ import annotations

import itertools
import json
import threading
from ikcheck.engine.compile import SENTINEL_RULE, SENTINEL_TYPE, compile_ruleset
from ikcheck.engine.rules import Ruleset, built_count, built_once

try:  # durable_rules does not build on Python 3.13+: the `python` engine is used there
    import durable_rules_engine as _c
except ImportError:  # pragma: no cover - depends on the interpreter
    _c = None

MAX_FACT_PROPERTIES = 200  # 253+ segfaults the C engine


class EngineError(RuntimeError):
    """The engine failed; nothing was stored."""


def available() -> bool:
    return _c is not None


class CompiledRuleset:
    _names = itertools.count()

    def __init__(self, rs: Ruleset):
        if _c is None:
            raise EngineError("durable_rules är inte installerat; använd engine = \"python\".")
        definition, self.rule_names = compile_ruleset(rs)
        self.aliases = {name: [p.alias for p in r.positives] for name, r in self.rule_names.items()}
        self.engine_name = f"ik{next(self._names)}_{rs.name}"
        self.handle = _c.create_ruleset(self.engine_name, json.dumps(definition, ensure_ascii=False))
        self.lock = threading.Lock()
        self._sids = itertools.count()

    def run(self, facts: list[dict]) -> set[tuple[str, tuple[int, ...]]]:
        """(rule id, fact indices in alias order) for every firing over one batch."""
        with self.lock:
            sid = f"b{next(self._sids)}"
            widest = max(map(len, facts), default=0)
            if widest > MAX_FACT_PROPERTIES:
                raise EngineError(f"En fakta har {widest} egenskaper; högst {MAX_FACT_PROPERTIES}.")
            payload = [{**f, "id": str(i), "sid": sid} for i, f in enumerate(facts)]
            payload.append({"type": SENTINEL_TYPE, "id": str(len(facts)), "sid": sid})
            fired: set[tuple[str, tuple[int, ...]]] = set()
            errors: list[BaseException] = []
            sentinel = False
            result = _c.assert_facts(self.handle, json.dumps(payload, ensure_ascii=False))
            if result[0] not in (0, 1):
                _c.delete_state(self.handle, sid)
                raise EngineError(f"durable_rules avvisade batchen (kod {result[0]}).")
            offset = result[1]
            try:
                action = _c.start_action_for_state(self.handle, offset)
                message = action[1] if action else None
                while message:
                    try:
                        for name, found in json.loads(message).items():
                            if name == SENTINEL_RULE:
                                sentinel = True
                                continue
                            aliases = self.aliases[name]
                            rule_id = self.rule_names[name].id
                            found = found if isinstance(found, list) else [found]
                            if len(aliases) == 1:
                                a = aliases[0]
                                fired.update([(rule_id, (int(m[a]["id"]),)) for m in found])
                            else:
                                fired.update([(rule_id, tuple([int(m[x]["id"]) for x in aliases]))
                                              for m in found])
                    except BaseException as exc:  # keep draining; raise after the state is gone
                        errors.append(exc)
                    message = _c.complete_and_start_action(self.handle, offset)
            finally:
                _c.delete_state(self.handle, sid)
            if errors:
                raise EngineError(f"Fel när regelträffar lästes: {errors[0]!r}") from errors[0]
            if not sentinel:
                raise EngineError("Slutmarkören nåddes inte: alla regelträffar kom inte fram.")
            return fired

    def close(self) -> None:
        if self.handle is not None:
            _c.delete_ruleset(self.handle)
            self.handle = None


def compiled(rs: Ruleset) -> CompiledRuleset:
    """The compiled ruleset for this exact content, compiled once per process."""
    return built_once("durable", rs, CompiledRuleset)


def cache_size() -> int:
    return built_count("durable")
