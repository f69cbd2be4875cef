"""The period picker of the marketers' pages."""

from __future__ import annotations

from django import forms

from campaigns.inputs import DayFormField
from campaigns.models import Channel
from reports.dashboard import PRESETS, Period, preset_label, preset_period
from reports.models import Attribution, GroupBy
from reports.payback import DEFAULT_MONTHS as DEFAULT_PAYBACK_MONTHS
from reports.payback import MAX_MONTHS as MAX_PAYBACK_MONTHS

MAX_DAYS = 3 * 366


class PeriodForm(forms.Form):
    preset = forms.ChoiceField(choices=list(PRESETS.items()), required=False, initial="last_month")
    start = DayFormField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = DayFormField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    attribution = forms.ChoiceField(
        choices=Attribution.choices,
        required=False,
        initial=Attribution.LAST_TOUCH,
        label="Attribution model",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Labels with today's dates: "Last year (2025)", "Last 30 days (25 Oct - 23 Nov 2026)".
        self.fields["preset"].choices = preset_choices()

    def clean(self) -> dict:
        data = super().clean()
        preset = data.get("preset") or "last_month"
        if preset == "custom":
            start, end = data.get("start"), data.get("end")
            if not start:
                self.add_error("start", "Give the first day of the custom range.")
            if not end:
                self.add_error("end", "Give the last day of the custom range.")
            if start and end:
                if end < start:
                    self.add_error("end", "The range must end on or after its first day.")
                elif (end - start).days + 1 > MAX_DAYS:
                    self.add_error("end", "A range covers at most three years.")
        data["preset"] = preset
        data["attribution"] = data.get("attribution") or Attribution.LAST_TOUCH
        return data

    def period(self) -> Period:
        data = self.cleaned_data
        if data["preset"] == "custom":
            return Period(data["start"], data["end"], "custom")
        return preset_period(data["preset"])


def preset_choices() -> list[tuple[str, str]]:
    return [(key, preset_label(key)) for key in PRESETS]


PERIOD_FIELDS = ("preset", "start", "end", "attribution")


def period_form(params, *, default: Period | None = None) -> tuple[PeriodForm, Period, str]:
    """The bound form, the period it names and the attribution model.

    An address that names no period field opens on `default` (last month unless the page
    says otherwise: a campaign's own days, the last 12 months of the campaign list); an
    invalid one shows last month with the form's errors."""
    named = params is not None and any(params.get(f) for f in PERIOD_FIELDS)
    if named:
        # A link that names only some fields (?preset=last_quarter) keeps the defaults of the rest.
        params = params.copy()
        if not params.get("attribution"):
            params["attribution"] = Attribution.LAST_TOUCH
        if not params.get("preset"):
            params["preset"] = (
                "custom" if params.get("start") or params.get("end") else "last_month"
            )
    form = PeriodForm(params if named else None)
    if form.is_bound and form.is_valid():
        return form, form.period(), form.cleaned_data["attribution"]
    period = (
        preset_period("last_month") if form.is_bound else default or preset_period("last_month")
    )
    if not form.is_bound:
        preset = period.preset if period.preset in PRESETS else "custom"
        form = PeriodForm(initial={"preset": preset, "start": period.start, "end": period.end})
    return form, period, Attribution.LAST_TOUCH


class ReferenceForm(forms.Form):
    """The attribution page's second model: each figure under the chosen model is shown beside
    this one's, with the change."""

    reference = forms.ChoiceField(
        choices=Attribution.choices,
        required=False,
        initial=Attribution.LAST_TOUCH,
        label="Reference model",
    )


def reference_form(params) -> tuple[ReferenceForm, str]:
    """The bound form and the reference model: last touch unless the address names another; an
    unknown name is the form's error (the page answers 400) and last touch."""
    if not (params is not None and params.get("reference")):
        return ReferenceForm(initial={"reference": Attribution.LAST_TOUCH}), Attribution.LAST_TOUCH
    form = ReferenceForm(params)
    if form.is_valid():
        return form, form.cleaned_data["reference"]
    return form, Attribution.LAST_TOUCH


class PathFilterForm(forms.Form):
    """The conversion paths' own filter, beside the period: paths through one channel."""

    channel = forms.ModelChoiceField(
        queryset=Channel.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Every channel",
        label="Through channel",
    )

    def __init__(self, *args, **kwargs) -> None:
        # Labelled like the period's fields ("Period", "From"), without a colon.
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class PaybackForm(forms.Form):
    """The payback page's choices: how many cohort months, grouped how, whose curves."""

    months = forms.IntegerField(
        min_value=1, max_value=MAX_PAYBACK_MONTHS, required=False, label="Cohort months"
    )
    group_by = forms.ChoiceField(choices=GroupBy.choices, required=False, label="Group by")
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="The costliest channel",
        label="Curves of",
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def choices(self) -> tuple[int, str, Channel | None]:
        """Months, grouping and channel; the defaults where a value is missing or bad."""
        data = self.cleaned_data if self.is_valid() else {}
        return (
            data.get("months") or DEFAULT_PAYBACK_MONTHS,
            data.get("group_by") or GroupBy.CHANNEL,
            data.get("channel"),
        )
