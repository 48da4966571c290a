"""Forms the test suite calls as server functions, one per behaviour under test."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from pydantic import BaseModel

from mizan_channels.forms import MizanFormMeta, MizanFormMixin, mizanFormMeta, mizanFormMixin
from mizan_channels.forms.describe import json_safe

from .models import Tag, Ticket

#: What ContactForm.on_submit_success has been called with (proves validate has no effects).
SENT: list[dict[str, Any]] = []


class ContactForm(mizanFormMixin, forms.Form):
    mizan = mizanFormMeta(name="contact", title="Contact Us", submit_label="Send")

    name = forms.CharField(max_length=50, help_text="Your full name.")
    email = forms.EmailField()
    message = forms.CharField(widget=forms.Textarea, min_length=5)

    def on_submit_success(self, request):
        SENT.append(dict(self.cleaned_data))
        return {"sent": True}


_JAN_31 = datetime.date(2024, 1, 31)
_today = datetime.date.today


def _sizes() -> list[tuple[str, str]]:
    return [("s", "Small"), ("l", "Large")]


class EveryFieldForm(MizanFormMixin, forms.Form):
    """Django's standard field set, each optional, echoing what Django cleaned."""

    mizan = MizanFormMeta(name="every_field")

    char = forms.CharField(required=False, max_length=10, min_length=2, initial="hi")
    email = forms.EmailField(required=False)
    url = forms.URLField(required=False, assume_scheme="https")
    slug = forms.SlugField(required=False)
    regex = forms.RegexField(regex=r"\A[a-z]+\d\Z", required=False)
    ip = forms.GenericIPAddressField(required=False)
    uuid = forms.UUIDField(required=False)
    integer = forms.IntegerField(required=False, min_value=1, max_value=10, step_size=1)
    float = forms.FloatField(required=False, validators=[MinValueValidator(0.5)])
    decimal = forms.DecimalField(required=False, max_digits=5, decimal_places=2)
    boolean = forms.BooleanField(required=False)
    null_boolean = forms.NullBooleanField(required=False)
    choice = forms.ChoiceField(
        required=False,
        choices=[("", "---"), ("a", "Apple"), ("Citrus", [("o", "Orange"), ("l", "Lemon")])],
    )
    radio = forms.ChoiceField(
        required=False, choices=[(1, "One"), (2, "Two")], widget=forms.RadioSelect
    )
    typed_choice = forms.TypedChoiceField(
        required=False, choices=[(1, "One"), (2, "Two")], coerce=int, empty_value=None
    )
    multiple_choice = forms.MultipleChoiceField(
        required=False, choices=[("x", "X"), ("y", "Y")], widget=forms.CheckboxSelectMultiple
    )
    typed_multiple_choice = forms.TypedMultipleChoiceField(
        required=False, choices=[(1, "One"), (2, "Two")], coerce=int
    )
    sized = forms.ChoiceField(required=False, choices=_sizes)
    date = forms.DateField(required=False, initial=_JAN_31)
    datetime = forms.DateTimeField(required=False)
    time = forms.TimeField(required=False)
    duration = forms.DurationField(required=False)
    split_datetime = forms.SplitDateTimeField(required=False)
    json = forms.JSONField(required=False)
    combo = forms.ComboField(
        required=False, fields=[forms.CharField(max_length=20), forms.EmailField()]
    )
    today = forms.DateField(required=False, initial=_today)
    secret = forms.CharField(
        required=False, widget=forms.PasswordInput, validators=[MaxLengthValidator(8)]
    )
    tag = forms.ModelChoiceField(queryset=Tag.objects.order_by("name"), required=False)
    tags = forms.ModelMultipleChoiceField(queryset=Tag.objects.order_by("name"), required=False)

    def on_submit_success(self, request) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["tag"] = data["tag"].name if data["tag"] else None
        data["tags"] = [t.name for t in data["tags"]]
        return {k: {"type": type(v).__name__, "value": json_safe(v)} for k, v in data.items()}


class SignupForm(mizanFormMixin, forms.Form):
    """Cross-field rules in clean() (non-field errors) and an auth-free public form."""

    mizan = mizanFormMeta(name="signup", websocket=True)

    username = forms.CharField()
    password = forms.CharField(widget=forms.PasswordInput)
    confirm = forms.CharField(widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password") != data.get("confirm"):
            raise ValidationError("Passwords don't match.", code="mismatch")
        return data

    def on_submit_success(self, request):
        return {"user": self.cleaned_data["username"]}


class TicketOut(BaseModel):
    id: int
    title: str
    owner: str
    tags: list[str]


class TicketForm(mizanFormMixin, forms.ModelForm):
    """A ModelForm: logged-in users only; a submit invalidates the `tickets` context."""

    mizan = mizanFormMeta(
        name="ticket", title="New ticket", submit_label="Open", auth=True, affects="tickets"
    )

    class Meta:
        model = Ticket
        fields = ["title", "email", "priority", "due", "tags"]

    def clean_title(self):
        title = self.cleaned_data["title"]
        if self.request is not None and title == self.request.user.get_username():
            raise ValidationError("Don't name a ticket after yourself.", code="self_named")
        return title

    def on_submit_success(self, request) -> TicketOut:
        ticket = self.save(commit=False)
        ticket.owner = request.user
        ticket.save()
        self.save_m2m()
        return TicketOut(
            id=ticket.pk,
            title=ticket.title,
            owner=request.user.get_username(),
            tags=[t.name for t in ticket.tags.order_by("name")],
        )


class NoteForm(mizanFormMixin, forms.Form):
    """Async on_submit_success; HTTP only; staff only."""

    mizan = mizanFormMeta(name="note", websocket=False, auth="staff")

    text = forms.CharField()

    async def on_submit_success(self, request):
        return {"text": self.cleaned_data["text"], "by": request.user.get_username()}
