"""django-q2 entry points for work requests."""

import uuid

from workrequests import services


def proposal_send_task(proposal_id: str) -> str | None:
    """Post an approved proposal to the CMMS (a second delivery does nothing)."""
    proposal = services.proposal_send(proposal_id=uuid.UUID(proposal_id))
    return None if proposal is None else proposal.status
