"""The project's settings with django-q2's defaults for the cluster (the B2 reference)."""

from dtwin_project.settings import *  # noqa: F403

# Only what django-q2 needs to run on our database; every other key is its default
# (workers = cores, bulk 1, poll 0.2 s, save_limit 250, retry 60 s, timeout none).
Q_CLUSTER = {"name": "dtwin", "orm": "default"}
