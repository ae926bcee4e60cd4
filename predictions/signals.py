"""Signals other apps listen to; senders stay free of what listeners do."""

from django.dispatch import Signal

# Sent once a job ended `done`, with `prediction` (a Prediction). Receivers must not raise.
prediction_done = Signal()
