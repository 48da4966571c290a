import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()

from mizan_channels import wrap_asgi  # noqa: E402

application = wrap_asgi(django_app)
