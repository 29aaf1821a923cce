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
from ikcheck.errors import UserError
from ikcheck.engine.compile import SENTINEL_RULE, SENTINEL_TYPE, compile_ruleset
from ikcheck.engine.rules import Ruleset, built_count, built_once

try:  # durable_rules does not build on Python 3.13+: the `python` engine is used there
    import durable_rules_engine as _c
except ImportError:  # pragma: no cover - depends on the interpreter
    _c = None

MAX_FACT_PROPERTIES = 200  # 253+ segfaults the C engine
# str(i) for i below this have distinct 32-bit FNV-1a hashes (durable_rules' fact identity); "40189"
# and "797186" are the first pair that collide (tests/test_engine.py checks the bound)
PLAIN_IDS_UP_TO = 797186


def fnv1a_32(text: str) -> int:
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def fact_ids(n: int) -> list[str]:
    """n fact ids whose FNV-1a hashes all differ: the index as text, with a suffix where it would
    collide with an earlier one (only past PLAIN_IDS_UP_TO facts)."""
    ids = [str(i) for i in range(min(n, PLAIN_IDS_UP_TO))]
    if n <= PLAIN_IDS_UP_TO:
        return ids
    seen = {fnv1a_32(x) for x in ids}
    for i in range(PLAIN_IDS_UP_TO, n):
        candidate, k = str(i), 0
        while fnv1a_32(candidate) in seen:
            k += 1
            candidate = f"{i}.{k}"
        seen.add(fnv1a_32(candidate))
        ids.append(candidate)
    return ids


class EngineError(UserError):
    """The engine failed or refused a batch; the message is Swedish, and nothing was stored (the
    service's transaction is rolled back)."""


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

    def run(self, facts: list[dict], ids: list[str] | None = None) -> set[tuple[str, tuple[int, ...]]]:
        """(rule id, fact indices in alias order) for every firing over one batch. `ids` (tests
        only) replaces the collision-free fact ids, one per fact and one for the sentinel."""
        with self.lock:
            sid = f"b{next(self._sids)}"
            widest = max(map(len, facts), default=0)
            if widest > MAX_FACT_PROPERTIES:
                raise EngineError(f"En fakta har {widest} egenskaper; högst {MAX_FACT_PROPERTIES}.")
            ids = ids or fact_ids(len(facts) + 1)
            index = {x: i for i, x in enumerate(ids)}
            payload = [{**f, "id": ids[i], "sid": sid} for i, f in enumerate(facts)]
            payload.append({"type": SENTINEL_TYPE, "id": ids[len(facts)], "sid": sid})
            fired: set[tuple[str, tuple[int, ...]]] = set()
            errors: list[BaseException] = []
            sentinel = False
            result = _c.assert_facts(self.handle, json.dumps(payload, ensure_ascii=False))
            offset = result[1]
            if result[0] not in (0, 1):
                # rejected (2: two facts the engine took for one). Actions may already be queued:
                # deleting the state before draining them crashes the C engine, so drain first.
                self._drain(offset, lambda _message: None, errors)
                _c.delete_state(self.handle, sid)
                raise EngineError(f"Regelmotorn avvisade en batch med {len(facts)} fakta (kod {result[0]}"
                                  + (": två fakta fick samma identitet" if result[0] == 2 else "")
                                  + "); ingenting har sparats.")

            def take(message: str) -> None:
                nonlocal sentinel
                for name, found in json.loads(message).items():
                    if name == SENTINEL_RULE:
                        sentinel = True
                        continue
                    aliases = self.aliases[name]
                    rule_id = self.rule_names[name].id
                    found = found if isinstance(found, list) else [found]
                    fired.update([(rule_id, tuple([index[m[x]["id"]] for x in aliases])) for m in found])

            try:
                self._drain(offset, take, errors)
            finally:
                _c.delete_state(self.handle, sid)
            if errors:
                raise EngineError(f"Fel när regelträffar lästes: {errors[0]!r}") from errors[0]
            if not sentinel:
                raise EngineError("Slutmarkören nåddes inte: alla regelträffar kom inte fram.")
            return fired

    def _drain(self, offset: int, take, errors: list[BaseException]) -> None:
        """Run every queued action of the state at `offset` through `take`, completing each; an
        exception is kept in `errors` and draining goes on, so no action is left queued."""
        action = _c.start_action_for_state(self.handle, offset)
        message = action[1] if action else None
        while message:
            try:
                take(message)
            except BaseException as exc:  # keep draining; the caller raises after the state is gone
                errors.append(exc)
            message = _c.complete_and_start_action(self.handle, offset)

    def close(self) -> None:
        if self.handle is not None:
            _c.delete_ruleset(self.handle)
            self.handle = None


def compiled(rs: Ruleset) -> CompiledRuleset:
    """The compiled ruleset for this exact content, compiled once per process."""
    return built_once("durable", rs, CompiledRuleset)


def cache_size() -> int:
    return built_count("durable")
