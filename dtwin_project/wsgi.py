"""WSGI entry point (gunicorn dtwin_project.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtwin_project.settings")

application = get_wsgi_application()
