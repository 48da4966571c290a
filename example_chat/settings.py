"""Settings of the example chat, read from the environment so one file serves a laptop and a
deployment (docs/deployment.md).

With nothing set it runs on SQLite with the in-memory channel layer: one daphne process.
`REDIS_URL` switches the channel layer, mizan's fan-out and its context cache to Redis, so
several processes serve one chat. `DATABASE_URL` (postgres://user:pass@host:port/name)
switches to PostgreSQL. Secrets come from the environment; in development, when they are
missing, random ones are generated once into `example_chat/.local-secrets.json`.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_NAMES = ("DJANGO_SECRET_KEY", "MIZAN_CACHE_SECRET", "MIZAN_MWT_SECRET")


def local_secrets() -> dict[str, str]:
    """Development secrets kept next to the project, created once (never in production:
    there, a missing secret must stop the start-up)."""
    path = BASE_DIR / ".local-secrets.json"
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        pass
    values = {name: secrets.token_urlsafe(48) for name in SECRET_NAMES}
    try:
        # O_EXCL: when several processes start at once, one writes and the others read.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return dict(json.loads(path.read_text()))
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh)
    return values


def secret(name: str) -> str:
    value = os.environ.get(name, "")
    if value:
        return value
    if not DEBUG:
        raise RuntimeError(
            f"{name} is not set. Production settings take secrets from the environment: "
            f"export {name}=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    return local_secrets()[name]


SECRET_KEY = secret("DJANGO_SECRET_KEY")
MIZAN_CACHE_SECRET = secret("MIZAN_CACHE_SECRET")
MIZAN_MWT_SECRET = secret("MIZAN_MWT_SECRET")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Origins (scheme://host[:port]) allowed to POST with the session cookie, e.g. the public
# https:// address when a proxy terminates TLS. Sockets check Origin against ALLOWED_HOSTS.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "mizan_channels",
    # Sign-in, sign-out and sign-up through allauth, called as server functions
    # (mizan_channels.contrib.allauth, enabled in chat/apps.py; docs/allauth.md).
    "allauth",
    "allauth.account",
    "example_chat.chat",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "example_chat.urls"
ASGI_APPLICATION = "example_chat.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def database_from_url(url: str) -> dict[str, object]:
    """`postgres://user:pass@host:port/name` as a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise RuntimeError(f"DATABASE_URL must start with postgres://, got {parts.scheme}://")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CHAT_SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
            # Several daphne processes may write one file: wait for the lock, don't fail.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # As docs/deployment.md section 3: mizan's own traffic uses MIZAN_REDIS_URL.
            "BACKEND": "mizan_channels.layers.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL}]},
        }
    }
    MIZAN_REDIS_URL = REDIS_URL
    MIZAN_CACHE_REDIS_URL = REDIS_URL
    # Shared by every process: allauth counts failed sign-ins in Django's cache.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "mizan_channels.layers.InMemoryChannelLayer"}}

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# allauth mails password resets and address confirmations; in development they are printed.
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or str(BASE_DIR / "staticfiles")
# daphne serves /static/ itself in development; behind nginx, nginx serves STATIC_ROOT.
SERVE_STATIC = env_bool("DJANGO_SERVE_STATIC", DEBUG)

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # The proxy redirects http to https; set these once every host name serves https.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "0"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "mizan_channels": {"level": os.environ.get("MIZAN_LOG_LEVEL", "INFO")},
        "example_chat": {"level": "INFO"},
    },
}
