"""Evaluate a batch's new fixes: each quiet declaration from its watch, the others by every rule.

This is what the gateway runs after storing a batch. The declarations are locked in id
order, as a full re-evaluation locks them, so two gateway processes take turns on one
declaration. A declaration whose new fixes are all quiet (see ``watch``) only has its
watch moved on (one statement for the whole batch); every other one is re-evaluated over
its window (``sync.reevaluate_many``), which syncs its alerts and makes its watch anew.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from beacon_gateway.evaluation.declared import cached_plan, plans_for
from beacon_gateway.evaluation.plan import Plan
from beacon_gateway.evaluation.rules import Rules, default_rules
from beacon_gateway.evaluation.sync import reevaluate_many
from beacon_gateway.evaluation.track import Fix
from beacon_gateway.evaluation.watch import Watch, advance, outside_corridor
from beacon_gateway.evaluation.watch_rows import lock_watched, save_watches
from tracker.db import among
from tracker.models import Declaration


def evaluate_new_fixes(session: Session, new_fixes: Mapping[int, Sequence[Fix]], now: datetime,
                       rules: Rules | None = None) -> dict[str, int]:
    """Judge each declaration's newly stored fixes; return how many were quiet and how many re-evaluated."""
    rules = rules or default_rules()
    rows = lock_watched(session, sorted(new_fixes))
    plans = _plans(session, rows, rules)
    ordered = {i: sorted(new_fixes[i], key=lambda f: f.time) for i in rows}
    outside = _outside(plans, ordered)
    moved: dict[int, Watch | None] = {}
    again: dict[int, datetime | None] = {}
    for declaration_id, row in rows.items():
        watch = Watch.from_json(row.state) if row.state is not None else None
        fixes = ordered[declaration_id]
        if watch is not None and (row.arrived_at is None or watch.arrived):
            moved[declaration_id] = advance(watch, fixes, plans[declaration_id], rules, now, outside[declaration_id])
        if moved.get(declaration_id) is None:
            moved.pop(declaration_id, None)
            again[declaration_id] = fixes[0].time
    save_watches(session, moved, now)
    if again:
        reevaluate_many(session, again, now=now, rules=rules)
    return {"quiet": len(moved), "evaluated": len(again)}


def _plans(session: Session, rows: Mapping[int, Row[Any]], rules: Rules) -> dict[int, Plan]:
    """Return the declarations' plans: from the cache, else read (a few queries for all that are missing)."""
    plans = {i: plan for i, row in rows.items() if (plan := cached_plan(row, rules)) is not None}
    missing = sorted(set(rows) - set(plans))
    if missing:
        declarations = session.scalars(select(Declaration).where(among(session, Declaration.id, missing))).all()
        plans.update(plans_for(session, declarations, rules))
    return plans


def _outside(plans: Mapping[int, Plan], fixes: Mapping[int, list[Fix]]) -> dict[int, list[bool]]:
    """Return, per declaration, which new fixes lie beyond the corridor: one call per shared corridor."""
    by_corridor: dict[int, list[int]] = defaultdict(list)
    for declaration_id in fixes:
        by_corridor[id(plans[declaration_id].corridor)].append(declaration_id)
    found: dict[int, list[bool]] = {}
    for ids in by_corridor.values():
        together = [fix for i in ids for fix in fixes[i]]
        flags = outside_corridor(plans[ids[0]], together)
        for i in ids:
            found[i], flags = flags[:len(fixes[i])], flags[len(fixes[i]):]
    return found
