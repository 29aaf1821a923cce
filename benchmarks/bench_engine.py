"""Rule engine speed: the bundled prioritering rules over 1k, 10k and 100k risk facts.

Baselines, in the same run on the same facts: the raw safe durable_rules recipe (ENGINE-NOTES: one
low-level assert_facts, drain with cap, sentinel, delete_state; no cross-check, no conclusions) in one
batch, and the plain-Python reference evaluator. ikcheck's engine = partition per unit + durable +
cross-check against the reference + groups + rendered conclusions.
Targets: ikcheck ≥ 0.8× the raw recipe (facts/s); time(100k)/time(10k) ≤ 11.
"""

from __future__ import annotations

import functools
import itertools
import json
import random

from common import best_of_interleaved, growth, peak_rss_mib, table

from ikcheck import engine
from ikcheck.config import bundled
from ikcheck.engine.compile import SENTINEL_TYPE, compile_ruleset

import durable_rules_engine as C  # noqa: E402

_names = itertools.count()


def facts(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        score = rng.choice([1, 2, 3, 4, 6, 8, 9, 12, 16])
        level = "hög" if score >= 9 else "medel" if score >= 5 else "låg"
        out.append({"type": "risk", "risk_id": i + 1, "code": f"R{i}", "unit": f"U{i % max(1, n // 2000)}",
                    "title": f"Risk {i}", "score": score, "level": level,
                    "level_rank": {"låg": 0, "medel": 1, "hög": 2}[level], "legal": rng.random() < 0.2,
                    "earlier_deficiency": rng.random() < 0.1, "flagged": rng.random() < 0.05, "spread": 2,
                    "category": rng.choice(["legal", "IT", "verksamhet", "omvärld", "rapportering"])})
    return out


class Raw:
    """The raw recipe, written out here so the baseline does not share code with the product."""

    def __init__(self, rs):
        definition, self.names = compile_ruleset(rs)
        self.handle = C.create_ruleset(f"raw{next(_names)}", json.dumps(definition, ensure_ascii=False))
        self.sids = itertools.count()

    def run(self, batch: list[dict]) -> int:
        sid = f"s{next(self.sids)}"
        payload = [{**f, "id": str(i), "sid": sid} for i, f in enumerate(batch)]
        payload.append({"type": SENTINEL_TYPE, "id": str(len(batch)), "sid": sid})
        code, offset = C.assert_facts(self.handle, json.dumps(payload, ensure_ascii=False))
        fired = 0
        action = C.start_action_for_state(self.handle, offset)
        message = action[1] if action else None
        while message:
            for found in json.loads(message).values():
                fired += len(found) if isinstance(found, list) else 1
            message = C.complete_and_start_action(self.handle, offset)
        C.delete_state(self.handle, sid)
        return fired


def main() -> None:
    rs = engine.load(bundled("rules") / "prioritering.yaml")
    raw = Raw(rs)
    rows, times = [], {}
    for n in (1_000, 10_000, 100_000):
        batch = facts(n)
        reps = {1_000: 30, 10_000: 7, 100_000: 2}[n]  # best of n: the least disturbed run
        t, out = best_of_interleaved(reps, {
            "raw": (raw.run, batch),
            "ref": (engine.evaluate, rs, batch, "python"),
            "ik": (engine.evaluate, rs, batch, "durable", "unit"),
        })
        t_raw, t_ref, t_ik = t["raw"], t["ref"], t["ik"]
        assert len([c for c in out["ik"].conclusions if c.group == "utfall"]) == n
        times[n] = t_ik
        rows.append([f"{n:,}".replace(",", " "), f"{n / t_raw:,.0f}", f"{n / t_ref:,.0f}", f"{n / t_ik:,.0f}",
                     f"{t_raw / t_ik:.2f}×", f"{peak_rss_mib():.0f}"])
    print("Regelmotorn: prioritering (7 regler) – fakta per sekund\n")
    print(table(["fakta", "rå recept", "referens", "ikcheck", "ikcheck / rå", "topp-RSS MiB"], rows))
    # Growth measured on its own (the table's 10k and 100k rows are minutes apart, and the machine's
    # speed drifts more than that): the same 100k facts as one batch and as ten 10k batches.
    big = facts(100_000)
    tens = [functools.partial(engine.evaluate, rs, big[i:i + 10_000], "durable", "unit") for i in range(0, 100_000, 10_000)]
    ratio = growth(5, tens, functools.partial(engine.evaluate, rs, big, "durable", "unit"))
    print(f"\ntid(100k)/tid(10k) = {ratio:.1f} (samma fakta som en batch och som tio; mål ≤ 11); "
          f"{times[100_000] / times[10_000]:.1f} ur tabellen")
    print("mål: ikcheck / rå ≥ 0.8×")


if __name__ == "__main__":
    main()
