"""Who may see and do what: every role rule lives here.

Reads are expressed as SQL conditions so lists and single records are filtered the
same way; a record outside a user's view simply does not exist for them (404).
"""
from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from tracker.models import (
    Alert,
    Container,
    CustodyEvent,
    Dealer,
    Declaration,
    DeclarationStatus,
    ExportConsent,
    ImportApproval,
    License,
    Role,
    StockEntry,
    Transaction,
    User,
)


class Action(StrEnum):
    """Things a user can do that change data."""

    DECLARE = "declare"                  # create and edit draft declarations
    REGISTER_CONTAINER = "register_container"
    DECIDE_DECLARATION = "decide_declaration"
    RECORD_CUSTODY = "record_custody"
    RECORD_TRANSACTION = "record_transaction"
    MANAGE_LICENSES = "manage_licenses"
    MANAGE_USERS = "manage_users"
    MANAGE_DEVICES = "manage_devices"
    HANDLE_ALERT = "handle_alert"        # acknowledge and close alerts
    EXPLAIN_ALERT = "explain_alert"      # explain a delay or shortage on one's own declaration
    IMPORT_CUSTOMS_DATA = "import_customs_data"  # load the customs service's border-crossing records


PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.TRADER: frozenset({
        Action.DECLARE, Action.REGISTER_CONTAINER, Action.RECORD_TRANSACTION, Action.EXPLAIN_ALERT,
    }),
    Role.CUSTOMS_OFFICER: frozenset({
        Action.RECORD_CUSTODY, Action.DECIDE_DECLARATION, Action.HANDLE_ALERT, Action.IMPORT_CUSTOMS_DATA,
    }),
    Role.LICENSING_ADMIN: frozenset({
        Action.DECIDE_DECLARATION, Action.MANAGE_LICENSES, Action.MANAGE_USERS,
        Action.MANAGE_DEVICES, Action.HANDLE_ALERT, Action.IMPORT_CUSTOMS_DATA,
    }),
    Role.AUDITOR: frozenset(),
}


def may(user: User, action: Action) -> bool:
    """Tell whether ``user``'s role allows ``action`` at all."""
    return user.active and action in PERMISSIONS[user.role]


def sees_everything(user: User) -> bool:
    """Tell whether the user reads every record (auditor, licensing admin)."""
    return user.role in (Role.AUDITOR, Role.LICENSING_ADMIN)


def declaration_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting the declarations ``user`` may read.

    A trader sees its dealer's own declarations, and those naming the dealer as
    consignor or consignee once they are no longer drafts. Officers see every
    declaration that has been submitted: a container may reach any post.
    """
    if sees_everything(user):
        return true()
    if user.role == Role.CUSTOMS_OFFICER:
        return Declaration.status != DeclarationStatus.DRAFT
    if user.role == Role.TRADER and user.dealer_id is not None:
        dealer = user.dealer_id
        return or_(
            Declaration.declarant_id == dealer,
            and_(
                Declaration.status != DeclarationStatus.DRAFT,
                or_(Declaration.consignor_id == dealer, Declaration.consignee_id == dealer),
            ),
        )
    return false()


def container_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting the containers ``user`` may read."""
    if sees_everything(user) or user.role == Role.CUSTOMS_OFFICER:
        return true()
    if user.role == Role.TRADER and user.dealer_id is not None:
        return or_(Container.owner_id == user.dealer_id, Container.custodian_id == user.dealer_id)
    return false()


def alert_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting the alerts ``user`` may read."""
    if sees_everything(user) or user.role == Role.CUSTOMS_OFFICER:
        return true()
    visible = select(Declaration.id).where(declaration_filter(user))
    return Alert.declaration_id.in_(visible)


def license_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting the licences ``user`` may read (a trader: its own)."""
    if user.role == Role.TRADER:
        return License.dealer_id == user.dealer_id
    return true()


def approval_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting the import approvals ``user`` may read (a trader: its own)."""
    if user.role == Role.TRADER:
        return ImportApproval.importer_id == user.dealer_id
    return true()


def consent_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting the export consents ``user`` may read (a trader: its own)."""
    if user.role == Role.TRADER:
        return ExportConsent.exporter_id == user.dealer_id
    return true()


def owns_declaration(user: User, declaration: Declaration) -> bool:
    """Tell whether ``user`` is a trader of the dealer that filed ``declaration`` (edits it)."""
    return may(user, Action.DECLARE) and user.dealer_id == declaration.declarant_id


def may_cancel(user: User, declaration: Declaration) -> bool:
    """Tell whether ``user`` may cancel ``declaration``: its declaring trader, or the licensing authority."""
    return owns_declaration(user, declaration) or (user.active and user.role == Role.LICENSING_ADMIN)


def may_report_receipt(user: User, declaration: Declaration) -> bool:
    """Tell whether ``user`` may file the report of receipt of ``declaration``.

    The consignee's traders report what they received; when the consignee is foreign
    (an export) nobody of theirs signs in here, so the declarant reports. A customs
    officer reports only at a destination they are posted at.
    """
    if user.active and user.role == Role.CUSTOMS_OFFICER:
        return any(post.id == declaration.destination_id for post in user.checkpoints)
    if not (user.active and user.role == Role.TRADER and user.dealer_id is not None):
        return False
    if user.dealer_id == declaration.consignee_id:
        return True
    return user.dealer_id == declaration.declarant_id and not declaration.consignee.is_domestic


def dealer_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting the dealers ``user`` may read in full."""
    if user.role == Role.TRADER:
        return Dealer.id == user.dealer_id
    return true()


# ---------------------------------------------------------------- evidence (register, stock, custody, reports)
def transaction_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting register entries ``user`` may read (a trader: as seller or buyer)."""
    if user.role == Role.TRADER:
        return or_(Transaction.seller_id == user.dealer_id, Transaction.buyer_id == user.dealer_id)
    return true()


def stock_entry_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting production and use records ``user`` may read."""
    if user.role == Role.TRADER:
        return StockEntry.dealer_id == user.dealer_id
    return true()


def custody_event_filter(user: User) -> ColumnElement[bool]:
    """Return the condition selecting custody events ``user`` may read.

    A trader sees the events on declarations it may read and on containers it owns or holds.
    """
    if sees_everything(user) or user.role == Role.CUSTOMS_OFFICER:
        return true()
    declarations = select(Declaration.id).where(declaration_filter(user))
    containers = select(Container.id).where(container_filter(user))
    return or_(CustodyEvent.declaration_id.in_(declarations), CustodyEvent.container_id.in_(containers))


def may_read_balance(user: User, dealer_id: int | None) -> bool:
    """Tell whether ``user`` may read the mass balance of ``dealer_id`` (None: national totals)."""
    if user.role == Role.TRADER:
        return dealer_id is not None and dealer_id == user.dealer_id
    return True


def may_read_reconciliation(user: User) -> bool:
    """Tell whether ``user`` may read the reconciliation of all sources (not traders)."""
    return user.role != Role.TRADER
