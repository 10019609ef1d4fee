"""The baseline for bench/wecom_callbacks.py: the platform's own Django set-up serving one trivial view.

    gunicorn --chdir <repo> bench.trivial_wsgi:application ...

Same settings module (``scrm.settings.local`` unless DJANGO_SETTINGS_MODULE says otherwise), same
middleware stack (tenant routing included: the mall host still costs its one Domain lookup), same
database and Redis; only the URLconf differs: ``/`` answers ``{"ok": true}`` and does nothing else.
Nothing is added to the platform itself.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.http import JsonResponse
from django.urls import path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.local")


def ok(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("", ok)]

# Both the mall host (public schema) and brand hosts route here.
settings.ROOT_URLCONF = __name__
settings.PUBLIC_SCHEMA_URLCONF = __name__

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
