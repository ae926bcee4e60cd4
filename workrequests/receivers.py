"""Signal receivers: hand events to services; never let a failure reach the sender."""

import logging
from typing import Any

from predictions.models import Prediction
from workrequests.services import proposal_consider

logger = logging.getLogger(__name__)


def propose_after_prediction(sender: Any, *, prediction: Prediction, **kwargs: Any) -> None:
    """After a job is done: propose a work request if the prediction is low. Never raises."""
    try:
        proposal_consider(prediction=prediction)
    except Exception:
        logger.exception("work-request proposal for prediction %s failed", prediction.pk)
