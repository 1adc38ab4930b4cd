"""Audit reports for the Ministry of Finance: what is moving now, route compliance, flows.

Every report reads only (nothing here writes), sees through the user's access filters,
and gives the ids of the records behind each figure so the web layer can link to them.
Masses are whole grams, distances metres, durations seconds.
"""
from tracker.domain.audit.compliance import Compliance, compliance
from tracker.domain.audit.flows import FLOW_GROUPS, FlowFilter, FlowRow, flow_declarations, flows
from tracker.domain.audit.now import InTransit, OpenAlertSummary, in_transit, open_alert_summary, open_alerts

__all__ = ["Compliance", "FLOW_GROUPS", "FlowFilter", "FlowRow", "InTransit", "OpenAlertSummary", "compliance",
           "flow_declarations", "flows", "in_transit", "open_alert_summary", "open_alerts"]
