"""The HTTP peers: a plain Django JSON view (sync, as most are written, and async) and a
django-ninja operation, each validating `{"text", "n"}` with the same Pydantic model."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST
from ninja import NinjaAPI

from .work import EchoIn, EchoOut, aecho_work, echo_work


@require_POST
def plain_echo(request: HttpRequest) -> JsonResponse:
    a = EchoIn.model_validate(json.loads(request.body))
    return JsonResponse({"data": echo_work(a.text, a.n).model_dump()})


@require_POST
async def plain_aecho(request: HttpRequest) -> JsonResponse:
    a = EchoIn.model_validate(json.loads(request.body))
    return JsonResponse({"data": (await aecho_work(a.text, a.n)).model_dump()})


api = NinjaAPI(urls_namespace="bench-ninja")


@api.post("/echo", response=EchoOut)
async def ninja_echo(request: HttpRequest, payload: EchoIn) -> EchoOut:
    return await aecho_work(payload.text, payload.n)
