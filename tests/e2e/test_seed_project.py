"""The seed README's examples pasted into a brand-new Django project work as written.

The project is written to a temporary folder (settings, urls, asgi, one app with the seed's
clients.py, apps.py, forms and channel), checked with `manage.py check`, served by a real
daphne, and called over HTTP and the socket as a client would. Twice: with the seed's own
import paths (`mizan`, `mizan.client`, `"mizan"` in INSTALLED_APPS) and with this
package's (`mizan_channels`, as the README writes them).
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mizan_channels.remote import RemoteError, connect
from tests.conftest import TIMEOUT
from tests.servers import ROOT, Daphne

pytestmark = pytest.mark.e2e

FILES = {
    "manage.py": """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
""",
    "myproject/__init__.py": "",
    "myproject/settings.py": """
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "seed-project-secret-key-0123456789abcdefghijklmnop"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "channels", "mizan_channels", "myapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "myproject.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
MIZAN_CACHE_SECRET = "seed-cache-secret-0123456789abcdefghijklmnopqrst"
MIZAN_MWT_SECRET = "seed-mwt-secret-0123456789abcdefghijklmnopqrstuv"
""",
    "myproject/urls.py": """
from django.urls import include, path

urlpatterns = [
    path("api/mizan/", include("mizan_channels.urls")),
]
""",
    "myproject/asgi.py": """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myproject.settings")
# asgi.py — for WebSocket / Channels support
from django.core.asgi import get_asgi_application
from mizan_channels import wrap_asgi

application = wrap_asgi(get_asgi_application())
""",
    "myapp/__init__.py": "",
    "myapp/apps.py": """
from django.apps import AppConfig


class MyAppConfig(AppConfig):
    name = "myapp"

    def ready(self) -> None:
        from mizan_channels.setup import mizan_clients
        mizan_clients("myapp")  # imports myapp/clients.py — triggers @client side effects
""",
    "myapp/clients.py": """
from mizan_channels.client import client
from mizan_channels.setup import register
from pydantic import BaseModel

from mizan_channels.channels import ReactChannel


class EchoOutput(BaseModel):
    message: str


@client
def echo(request, text: str) -> EchoOutput:
    return EchoOutput(message=text)


register(echo, "echo")


class ChatChannel(ReactChannel):
    class Params(BaseModel):
        room: str

    class DjangoMessage(BaseModel):
        text: str
        user: str

    def authorize(self, params):
        return self.user.is_authenticated

    def group(self, params):
        return f"chat_{params.room}"
""",
    "myapp/forms.py": """
from django import forms
from mizan_channels.forms import mizanFormMixin, mizanFormMeta

SENT = []


def send_email(data):
    SENT.append(data)


class ContactForm(mizanFormMixin, forms.Form):
    mizan = mizanFormMeta(name="contact", title="Contact Us", submit_label="Send")

    name    = forms.CharField()
    email   = forms.EmailField()
    message = forms.CharField(widget=forms.Textarea)

    def on_submit_success(self, request):
        send_email(self.cleaned_data)
        return {"sent": True}
""",
}


@pytest.fixture(scope="module", params=["mizan", "mizan_channels"])
def project(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    root = tmp_path_factory.mktemp("seedproject")
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n").replace("mizan_channels", request.param))
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{ROOT}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for command in (["check"], ["migrate", "--noinput", "-v", "0"]):
        result = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        if command == ["check"]:  # not one warning either, under either spelling
            assert "identified no issues" in result.stdout, result.stdout + result.stderr
    return root


def test_seed_examples_serve_http_and_socket(project: Path) -> None:
    env = {
        "PYTHONPATH": f"{project}{os.pathsep}{ROOT}",
        "DJANGO_SETTINGS_MODULE": "myproject.settings",
    }
    with Daphne(app="myproject.asgi:application", env=env, cwd=project) as d:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def request(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            headers = {"Content-Type": "application/json"}
            token = next((c.value for c in jar if c.name == "csrftoken"), None)
            if token:
                headers["X-CSRFToken"] = token
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(d.url + path, data=data, headers=headers, method=method)
            try:
                with opener.open(req, timeout=TIMEOUT) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        request("GET", "/api/mizan/ctx/none")  # any context fetch hands out the CSRF cookie
        assert request("POST", "/api/mizan/call/echo", {"text": "hi"}) == (
            200,
            {"data": {"message": "hi"}, "inv": []},
        )
        status, schema = request("POST", "/api/mizan/call/contact.schema", {})
        assert status == 200 and [f["name"] for f in schema["data"]["fields"]] == [
            "name",
            "email",
            "message",
        ]
        assert request(
            "POST",
            "/api/mizan/call/contact.submit",
            {"name": "Ada", "email": "ada@example.com", "message": "Hello"},
        ) == (200, {"data": {"sent": True}, "inv": []})
        status, body = request("POST", "/api/mizan/call/contact.submit", {"name": "Ada"})
        assert status == 400 and body["error"]["code"] == "invalid_params"

        async def socket() -> None:
            async with connect(d.ws_url + "/ws/mizan/", timeout=TIMEOUT) as c:
                with pytest.raises(RemoteError) as info:
                    await c.subscribe("chat", room="lobby")  # authorize: logged-in users only
                assert info.value.code == "unauthorized"
                with pytest.raises(RemoteError) as info:
                    await c.call("echo", text="hi")  # @client without websocket=True
                assert info.value.code == "not_exposed"

        asyncio.run(socket())
