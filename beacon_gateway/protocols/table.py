"""The README's table of beacon protocols, written from the registry (``python -m beacon_gateway.protocols.table``).

A test checks that the README holds exactly this table, so the documentation follows the entries.
"""
from __future__ import annotations

from beacon_gateway import protocols
from beacon_gateway.protocols import Protocol

HEADER = ("| protocol | devices and messages | arrives by | setting | usual port | `parse` | `simulate --packet` |\n"
          "|---|---|---|---|---|---|---|")


def markdown_table() -> str:
    """Return the Markdown table of every registry entry, one row each, in registration order."""
    return "\n".join([HEADER, *(_row(p) for p in protocols.every())])


def _row(protocol: Protocol) -> str:
    setting = f"`{protocol.port_setting}`" if protocol.port_setting else "—"
    usual = str(protocol.usual_port) if protocol.usual_port else "—"
    readable = "yes" if protocol.readable else "as `json`"
    if protocol.encoder is None:
        simulated = "—"
    else:
        simulated = ", ".join(protocol.encoder.packets) or "yes"
    return (f"| `{protocol.name}` ({protocol.title}) | {protocol.summary} | {protocol.transport.upper()} | "
            f"{setting} | {usual} | {readable} | {simulated} |")


if __name__ == "__main__":
    print(markdown_table())
