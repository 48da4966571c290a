"""Settings for the library's own test suite."""

from __future__ import annotations

import os
import tempfile

SECRET_KEY = "tests-secret-key-not-for-production-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "mizan_channels",
    "tests.testapp",
    # tests/test_allauth.py: the `allauth` extra against real django-allauth.
    "allauth",
    "allauth.account",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ROOT_URLCONF = "tests.urls"
_AUX = os.path.join(tempfile.gettempdir(), f"mizan-tests-aux-{os.getpid()}.sqlite3")
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("MIZAN_TEST_DB", ":memory:"),
        "TEST": {"NAME": os.environ.get("MIZAN_TEST_DB") or None},
    },
    # A file database (one connection per thread, unlike in-memory SQLite's shared one), for
    # tests of connection clean-up in worker threads. Created only by tests that ask for it.
    "aux": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _AUX,
        "TEST": {"NAME": _AUX},
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
ASGI_APPLICATION = "tests.asgi.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
MIZAN_CACHE_SECRET = "test-cache-secret-0123456789abcdefghijklmnopqrstuv"
MIZAN_MWT_SECRET = "test-mwt-secret-0123456789abcdefghijklmnopqrstuvwx"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"mizan_channels": {"handlers": ["console"], "level": "WARNING"}},
}
