"""Evaluation of positions against the declared route corridor, raising alerts.

``evaluate`` judges a track offline (``check-route``, tests); ``reevaluate`` is what
the ingestion pipeline calls after storing positions: it re-reads the window that can
change and brings the declaration's alerts in line with what the rules find.
"""
from __future__ import annotations

from beacon_gateway.evaluation.engine import evaluate
from beacon_gateway.evaluation.episodes import Episode
from beacon_gateway.evaluation.plan import Area, Circle, Plan, plan_for_route
from beacon_gateway.evaluation.rules import KINDS, Rules
from beacon_gateway.evaluation.overdue import check_overdue, run_overdue_check
from beacon_gateway.evaluation.sync import reevaluate, reevaluate_many
from beacon_gateway.evaluation.track import Fix

__all__ = ["Area", "Circle", "Episode", "check_overdue", "Fix", "KINDS", "Plan", "Rules", "evaluate", "plan_for_route",
           "reevaluate", "reevaluate_many", "run_overdue_check"]
