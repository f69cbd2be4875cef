"""The marketers' pages (SPEC §6): thin views over `reports.dashboard` and `reports.services`."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from campaigns.errors import DomainError
from campaigns.models import Campaign
from reports import dashboard
from reports.csvexport import write_comparison, write_report
from reports.forms import period_form, preset_choices, reference_form
from reports.glossary import ASSISTED_NOTE, CHANNEL_NOTE, FUNNEL_CAPTION, FUNNEL_NOTE, terms
from reports.metrics import funnel_report, roi_report, with_self_reported
from reports.models import (
    Attribution,
    Granularity,
    GroupBy,
    Report,
    ReportSubscription,
)

PERMISSION = "reports.view_dashboard"
ROI_COLUMNS = [
    # key, header, kind
    ("cost", "Cost", "money"),
    ("revenue", "Revenue", "money"),
    ("roi", "ROI", "percent"),  # a ratio in the API and CSV (-0.3600), -36.0% on the pages
    ("roas", "ROAS", "ratio"),
    ("followers", "Followers", "count"),
    ("leads", "Leads", "count"),
    ("qualified", "Qualified", "count"),
    ("customers", "Customers", "decimal"),
    ("cost_per_lead", "Cost / lead", "money"),
    ("cost_per_customer", "CAC", "money"),
    ("assisted_conversions", "Assisted", "count"),
    ("assisted_revenue", "Assisted revenue", "money"),
    ("discounts", "Discounts", "money"),
    ("impressions", "Impressions", "count"),
    ("interactions", "Interactions", "count"),
    ("engagement_rate", "Engagement rate", "percent"),
    ("followers_gained", "Followers gained", "count"),
]
# The dashboard's channel table: the tracked figures, and beside the followers (the period's
# entrants by tracked source) the same entrants by what they say (`metrics.with_self_reported`).
CHANNEL_COLUMNS = [
    *ROI_COLUMNS[:5],
    # A non-breaking hyphen: a header wraps between its words, never inside one.
    ("self_reported", "Self\u2011reported", "count"),
    *ROI_COLUMNS[5:],
]
FUNNEL_COLUMNS = [
    ("followers", "Followers", "count"),
    ("leads", "Leads", "count"),
    ("qualified", "Qualified", "count"),
    ("customers", "Customers", "decimal"),
    ("cohort_size", "Entered (cohort)", "count"),
    ("reached_lead_share", "Cohort reached lead", "percent"),
    ("reached_customer_share", "Cohort reached customer", "percent"),
    ("median_days_to_lead", "Median days to lead", "decimal"),
    ("median_days_to_customer", "Median days to customer", "decimal"),
]


def glossary(*tables: str) -> list[tuple[str, list]]:
    """The "What the figures mean" sections of a page: ("roi", "self_reported", "funnel",
    "rows", "attribution", "comparison")."""
    roi = [key for key, _, _ in ROI_COLUMNS]
    sections = {
        "roi": ("The ROI tables", terms(roi)),
        "funnel": (
            "The funnel table (counted by the day each stage was reached)",
            terms([key for key, _, _ in FUNNEL_COLUMNS], "funnel"),
        ),
        "self_reported": ("The channel table, beside the tracked source", terms(["self_reported"])),
        "rows": ("Rows", terms(["unattributed", "no_campaign"])),
        "attribution": (
            "This page",
            terms(["reference_model", "cost", "revenue", "customers", "roi", "cost_per_customer"]),
        ),
        "comparison": (
            "Changes and the models side by side",
            terms(
                [
                    "change",
                    "change_ratio",
                    "roi_change",
                    "cac_change",
                    "spread",
                    "assisted_conversions",
                    "assisted_revenue",
                ]
            ),
        ),
    }
    return [sections[t] for t in tables]


def marketer_required(view: Callable) -> Callable:
    """Log in first (redirect), then the report permission (403 for a logged-in user without it)."""

    @login_required
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied("The report pages are for marketers.")
        return view(request, *args, **kwargs)

    return wrapped


def _query(request: HttpRequest, **extra: str) -> str:
    params = request.GET.copy()
    for key, value in extra.items():
        params[key] = value
    return params.urlencode()


# A data-driven model's tables add each revenue's 95% interval beside it.
INTERVAL_COLUMNS = [
    ("revenue_low", "Revenue low (95%)", "money"),
    ("revenue_high", "Revenue high (95%)", "money"),
]


def with_intervals(columns: list, learned: dict | None) -> list:
    """The table's columns, with the revenue's interval after the revenue under a data-driven
    model that had enough conversions (`learned`: the report's `data_driven`)."""
    if not learned or learned.get("status") != "ok":
        return columns
    at = next(i for i, (key, _, _) in enumerate(columns) if key == "revenue") + 1
    return [*columns[:at], *INTERVAL_COLUMNS, *columns[at:]]


@marketer_required
def dashboard_view(request: HttpRequest) -> HttpResponse:
    form, period, attribution = period_form(request.GET)
    data = dashboard.dashboard_data(period=period, attribution=attribution)
    return render(
        request,
        "reports/dashboard.html",
        {
            "form": form,
            "period": period,
            "attribution": attribution,
            "attribution_label": Attribution(attribution).label,
            "columns": with_intervals(ROI_COLUMNS, data["channels"].get("data_driven")),
            "channel_columns": with_intervals(CHANNEL_COLUMNS, data["channels"].get("data_driven")),
            "funnel_columns": FUNNEL_COLUMNS,
            "glossary": glossary("roi", "self_reported", "funnel", "rows"),
            "data_driven": data["channels"].get("data_driven"),
            "channel_note": CHANNEL_NOTE,
            "assisted_note": ASSISTED_NOTE,
            "funnel_caption": FUNNEL_CAPTION,
            "funnel_note": FUNNEL_NOTE,
            "query": _query(request),
            **data,
        },
        status=200 if not form.errors else 400,
    )


def _group_by(params) -> str:
    """Channel or campaign (an unknown value shows channels, as the address had none)."""
    wanted = params.get("group_by")
    return wanted if wanted in GroupBy.values else GroupBy.CHANNEL


def comparison_columns(model_label: str, reference_label: str) -> list[dict]:
    """The comparison table's column groups (revenue, customers, ROI, CAC), each with the
    figure under the model and the reference model and the change; `term` names the
    glossary entry of the column's tooltip."""
    kinds = {
        # figure: (how it reads, how its change reads, the change's term)
        "revenue": ("money", "money", "change"),
        # Customers to two decimals always, so the columns line up ("ratio" reads 0.50).
        "customers": ("ratio", "decimal", "change"),
        "roi": ("percent", "points", "roi_change"),
        "cost_per_customer": ("money", "money", "cac_change"),
    }
    groups = []
    for key, label, relative in dashboard.COMPARED:
        kind, change_kind, change_term = kinds[key]
        columns = [
            {"key": key, "header": model_label, "kind": kind, "term": key},
            {"key": f"reference_{key}", "header": reference_label, "kind": kind, "term": key},
            {
                "key": f"{key}_change",
                "header": "Change (pp)" if key == "roi" else "Change",
                "kind": change_kind,
                "signed": True,
                "term": change_term,
            },
        ]
        if relative:
            columns.append(
                {
                    "key": f"{key}_change_ratio",
                    "header": "% change",
                    "kind": "percent",
                    "signed": True,
                    "term": "change_ratio",
                }
            )
        groups.append({"key": key, "label": label, "columns": columns})
    return groups


@marketer_required
def attribution_view(request: HttpRequest) -> HttpResponse:
    """Every model's figures per channel or campaign: the chosen model (`attribution`) beside
    the reference model (`reference`, last touch by default) with the changes, a chart, and
    the revenue under all five models side by side."""
    form, period, model = period_form(request.GET)
    compare, reference = reference_form(request.GET)
    group_by = _group_by(request.GET)
    figures = dashboard.attribution_data(period=period, group_by=group_by)
    comparison = dashboard.model_comparison(
        figures, period=period, group_by=group_by, model=model, reference=reference
    )
    columns = comparison_columns(comparison["model_label"], comparison["reference_label"])
    return render(
        request,
        "reports/attribution.html",
        {
            "form": form,
            "reference_form": compare,
            "period": period,
            "group_by": group_by,
            "attribution": model,
            "attribution_label": Attribution(model).label,
            "columns": columns,
            "column_count": 2 + sum(len(group["columns"]) for group in columns),
            "query": _query(request),
            "glossary": glossary("attribution", "comparison", "rows"),
            "data_driven": figures["learned"].get(model),
            **figures,
            **comparison,
        },
        status=200 if not (form.errors or compare.errors) else 400,
    )


@marketer_required
def campaign_list_view(request: HttpRequest) -> HttpResponse:
    """Every campaign with its status, dates and figures in the chosen period (default: the
    last 12 months), sortable by any column through the address (?sort=-roi)."""
    form, period, attribution = period_form(
        request.GET, default=dashboard.preset_period("last_12_months")
    )
    sort = request.GET.get("sort") or ""
    if sort.lstrip("-") not in dashboard.CAMPAIGN_SORTS:
        sort = "-starts_on"  # the newest campaigns first
    rows = dashboard.campaign_list(period=period, attribution=attribution, sort=sort)
    current, descending = sort.lstrip("-"), sort.startswith("-")
    headers = []
    for key, (label, kind) in dashboard.CAMPAIGN_SORTS.items():
        if key == current:  # sorted by it: the link turns the order round
            wanted = key if descending else "-" + key
        else:  # figures and dates start with the largest, names with A
            wanted = key if kind == "text" else "-" + key
        headers.append(
            {
                "key": key,
                "label": label,
                "kind": kind,
                "href": "?" + _query(request, sort=wanted),
                "aria_sort": (
                    ("descending" if descending else "ascending") if key == current else None
                ),
            }
        )
    return render(
        request,
        "reports/campaign_list.html",
        {
            "form": form,
            "period": period,
            "attribution": attribution,
            "attribution_label": Attribution(attribution).label,
            "rows": rows,
            "headers": headers,
            "sort": sort,
        },
        status=200 if not form.errors else 400,
    )


@marketer_required
def campaign_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A campaign's page; without a period in the address, on the campaign's own days."""
    campaign = get_object_or_404(Campaign.objects.select_related("channel"), pk=pk)
    form, period, attribution = period_form(
        request.GET, default=dashboard.campaign_period(campaign)
    )
    data = dashboard.campaign_data(campaign=campaign, period=period, attribution=attribution)
    return render(
        request,
        "reports/campaign.html",
        {
            "form": form,
            "period": period,
            "attribution": attribution,
            "attribution_label": Attribution(attribution).label,
            "campaign": campaign,
            "glossary": glossary("roi"),
            **data,
        },
        status=200 if not form.errors else 400,
    )


@marketer_required
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    """CSV of one table, with the API's keys as headers and the API's figures as values (the
    attribution page's comparison: the page's own figures)."""
    form, period, attribution = period_form(request.GET)
    if form.errors:
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    params = {"start": period.start, "end": period.end, "attribution": attribution}
    name = f"{table}-{period.start}-{period.end}-{attribution}"
    if table in ("channels", "campaigns", "funnel"):
        # Cached like the pages the tables come from (voided by late data the same way).
        report = dashboard.period_cached(
            f"csv-{table}",
            period.start,
            period.end,
            (attribution,),
            lambda: (
                funnel_report(group_by=GroupBy.CHANNEL, **params)
                if table == "funnel"
                else with_self_reported(roi_report(group_by=GroupBy.CHANNEL, **params))
                if table == "channels"
                else roi_report(group_by=GroupBy.CAMPAIGN, **params)
            ),
            back=dashboard.reach_back(attribution),
        )
    elif table == "attribution":
        compare, reference = reference_form(request.GET)
        if compare.errors:
            return HttpResponse(compare.errors.as_text(), status=400, content_type="text/plain")
        group_by = _group_by(request.GET)
        comparison = dashboard.model_comparison(
            dashboard.attribution_data(period=period, group_by=group_by),
            period=period,
            group_by=group_by,
            model=attribution,
            reference=reference,
        )
        name = f"attribution-{group_by}-{period.start}-{period.end}-{attribution}-vs-{reference}"
    else:
        return HttpResponse("Unknown table.", status=404, content_type="text/plain")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    if table == "attribution":
        write_comparison(response, comparison)
    else:
        write_report(response, report)
    return response


@marketer_required
def saved_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(Report.objects.order_by("-created_at", "-id"), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "reports/saved_list.html",
        {
            "page": page,
            "granularities": Granularity.choices,
            "presets": preset_choices(),
            "models": Attribution.choices,
        },
    )


@marketer_required
def saved_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = get_object_or_404(Report, pk=pk)
    roi = (report.data or {}).get("roi")
    funnel = (report.data or {}).get("funnel")
    return render(
        request,
        "reports/saved_detail.html",
        {
            "report": report,
            "roi": roi,
            "funnel": funnel,
            "columns": with_intervals(ROI_COLUMNS, (roi or {}).get("data_driven")),
            "channel_columns": with_intervals(CHANNEL_COLUMNS, (roi or {}).get("data_driven")),
            "funnel_columns": FUNNEL_COLUMNS,
            "glossary": glossary("roi", "self_reported", "funnel", "rows"),
            "data_driven": (roi or {}).get("data_driven"),
            "channel_note": CHANNEL_NOTE,
            "funnel_caption": FUNNEL_CAPTION,
            "funnel_note": FUNNEL_NOTE,
        },
    )


@marketer_required
def saved_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """A done report's ROI rows and totals as CSV (the dashboard's CSV writer)."""
    from reports.services import report_csv

    report = get_object_or_404(Report, pk=pk)
    if report.status != Report.Status.DONE or not (report.data or {}).get("roi"):
        return HttpResponse(
            "This report has no figures yet.", status=409, content_type="text/plain"
        )
    response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="roi-{report.group_by}-{report.start}-{report.end}-'
        f'{report.attribution}.csv"'
    )
    return response


@marketer_required
@require_POST
def saved_delete(request: HttpRequest, pk: int) -> HttpResponse:
    from reports.services import report_delete

    report = get_object_or_404(Report, pk=pk)
    report_delete(report=report, by=request.user)
    messages.success(request, f"Deleted the report {report.name}.")
    return redirect("reports:saved")


@marketer_required
@require_POST
def saved_generate(request: HttpRequest) -> HttpResponse:
    """Ask for a report now (from the list's form, or "regenerate" on a report's page)."""
    from reports.services import report_request

    form, period, attribution = period_form(request.POST)
    if form.errors:
        messages.error(
            request,
            "Check the period: " + "; ".join(e for errs in form.errors.values() for e in errs),
        )
        return redirect("reports:saved")
    group_by = (
        request.POST.get("group_by")
        if request.POST.get("group_by") in GroupBy.values
        else GroupBy.CHANNEL
    )
    try:
        report = report_request(
            start=period.start,
            end=period.end,
            group_by=group_by,
            attribution=attribution,
            granularity=Granularity.CUSTOM,
            by=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("reports:saved")
    return redirect("reports:saved-detail", pk=report.pk)


@marketer_required
def saved_status(request: HttpRequest, pk: int) -> JsonResponse:
    report = get_object_or_404(
        Report.objects.only("id", "status", "error", "stale", "finished_at"), pk=pk
    )
    return JsonResponse(
        {
            "id": report.pk,
            "status": report.status,
            "stale": report.stale,
            "error": report.error,
            "finished_at": report.finished_at.isoformat() if report.finished_at else None,
            "url": reverse("reports:saved-detail", args=[report.pk]),
        }
    )


@marketer_required
@require_http_methods(["GET", "POST"])
def subscriptions_view(request: HttpRequest) -> HttpResponse:
    """Which addresses receive which periodic reports: any address, any kinds, one form per
    address (its kinds, or remove it) and one to add an address."""
    from reports.services import PERIODIC, subscription_set

    kinds = [(g, Granularity(g).label) for g in PERIODIC]
    added = {"email": "", "kinds": set()}
    status = 200
    if request.method == "POST":
        email = request.POST.get("email", "")
        wanted = set() if "remove" in request.POST else set(request.POST.getlist("kinds"))
        try:
            address = subscription_set(email=email, granularities=wanted, by=request.user)
        except DomainError as exc:
            messages.error(request, f"{email.strip() or 'The address'}: {exc.message}")
            added, status = {"email": email, "kinds": wanted}, 400
        else:
            if wanted:
                names = ", ".join(label.lower() for g, label in kinds if g in wanted)
                messages.success(request, f"{address} receives the {names} reports.")
            else:
                messages.success(request, f"{address} receives no reports any more.")
            return redirect("reports:subscriptions")
    by_address: dict[str, set[str]] = {}
    for email, granularity in ReportSubscription.objects.values_list("email", "granularity"):
        by_address.setdefault(email, set()).add(granularity)
    return render(
        request,
        "reports/subscriptions.html",
        {
            "kinds": kinds,
            "addresses": [
                {"email": email, "kinds": [(g, label, g in chosen) for g, label in kinds]}
                for email, chosen in sorted(by_address.items())
            ],
            "added": {
                "email": added["email"],
                "kinds": [(g, label, g in added["kinds"]) for g, label in kinds],
            },
        },
        status=status,
    )


def home(request: HttpRequest) -> HttpResponse:
    """Marketers land on the dashboard, everybody else in the admin."""
    if request.user.is_authenticated and request.user.has_perm(PERMISSION):
        return redirect("reports:dashboard")
    return redirect("admin:index")


PATH_COLUMNS = [
    # key, header, kind
    ("conversions", "Conversions", "count"),
    ("revenue", "Revenue", "money"),
    ("touches_per_conversion", "Touches / conversion", "ratio"),
    ("average_days_to_convert", "Average days to convert", "days"),
    ("median_days_to_convert", "Median days to convert", "days"),
]


def _path_filters(request: HttpRequest):
    """The period and the channel of the paths' address; their forms (bound, with any errors)."""
    from reports.forms import PathFilterForm

    form, period, _ = period_form(request.GET)
    channels = PathFilterForm(request.GET)
    channel = channels.cleaned_data["channel"] if channels.is_valid() else None
    return form, channels, period, channel


@marketer_required
def paths_view(request: HttpRequest) -> HttpResponse:
    """The most common channel sequences before a first purchase (GA4's conversion paths)."""
    from reports.glossary import PATHS
    from reports.paths import TOP_PATHS, paths_data

    form, channels, period, channel = _path_filters(request)
    report = paths_data(period=period, channel=channel)
    return render(
        request,
        "reports/paths.html",
        {
            "form": form,
            "extra_fields": channels,
            "period": period,
            "channel": channel,
            "report": report,
            "columns": PATH_COLUMNS,
            "top": TOP_PATHS,
            "query": _query(request),
            "glossary": [("This page", list(PATHS.values()))],
        },
        status=200 if not (form.errors or channels.errors) else 400,
    )


@marketer_required
def paths_csv(request: HttpRequest) -> HttpResponse:
    """The conversion paths table as CSV: the page's rows and figures."""
    from reports.paths import paths_data, write_paths

    form, channels, period, channel = _path_filters(request)
    if form.errors or channels.errors:
        errors = form.errors.as_text() + channels.errors.as_text()
        return HttpResponse(errors, status=400, content_type="text/plain")
    report = paths_data(period=period, channel=channel)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    suffix = f"-{channel.slug}" if channel else ""
    response["Content-Disposition"] = (
        f'attachment; filename="paths-{period.start}-{period.end}{suffix}.csv"'
    )
    write_paths(response, report)
    return response


PAYBACK_COLUMNS = [
    # key, header, kind, glossary term
    ("entrants", "Entrants", "count", "entrants"),
    ("cost", "Cost", "money", "cost"),
    ("revenue_30", "Revenue 30 d", "money", "revenue"),
    ("revenue_60", "Revenue 60 d", "money", "revenue"),
    ("revenue_90", "Revenue 90 d", "money", "revenue"),
    ("revenue_180", "Revenue 180 d", "money", "revenue"),
    ("ratio_180", "Payback ratio", "percent", "ratio"),
]


def payback_cells(report: dict) -> list[tuple[dict, list[tuple]]]:
    """Each row with its cells (value, kind, header, open): a revenue or ratio is open while
    its horizon is, entrants and cost while the month is not over."""
    out = []
    for row in report["rows"]:
        month_over = dashboard.shift_months(row["month"], 1) <= report["as_of"]
        cells = []
        for key, header, kind, _ in PAYBACK_COLUMNS:
            if key.startswith(("revenue_", "ratio_")):
                is_open = not row["closed_" + key.split("_")[1]]
            else:
                is_open = not month_over
            cells.append((row[key], kind, header, is_open and row[key] is not None))
        out.append((row, cells))
    return out


def _payback(request: HttpRequest):
    """The page's form and choices, and the report (none when the choices are bad)."""
    from reports.forms import PaybackForm
    from reports.payback import payback_report

    form = PaybackForm(request.GET)
    months, group_by, channel = form.choices()
    report = None if form.errors else payback_report(months=months, group_by=group_by)
    return form, months, group_by, channel, report


@marketer_required
def payback_view(request: HttpRequest) -> HttpResponse:
    """Cohort payback: each month's entrants per source, their revenue against the month's
    cost at 30, 60, 90 and 180 days, the payback day, and one channel's curves."""
    from reports.glossary import PAYBACK
    from reports.payback import HORIZONS, costliest_channel, curves

    form, months, group_by, channel, report = _payback(request)
    slug = chart = None
    if report is not None:
        slug = channel.slug if channel else costliest_channel(report)
        chart = curves(report, channel=slug) if slug else None
    return render(
        request,
        "reports/payback.html",
        {
            "form": form,
            "months": months,
            "group_by": group_by,
            "channel": channel,
            "chart_channel": slug,
            "chart": chart,
            "report": report,
            "table": payback_cells(report) if report else [],
            "columns": PAYBACK_COLUMNS,
            "horizons": HORIZONS,
            "query": _query(request),
            "glossary": [("This page", list(PAYBACK.values()))],
        },
        status=400 if form.errors else 200,
    )


@marketer_required
def payback_csv(request: HttpRequest) -> HttpResponse:
    """The payback table as CSV: one line per cohort month and group, the API's values."""
    from reports.payback import write_payback

    form, months, group_by, _, report = _payback(request)
    if form.errors:
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="payback-{group_by}-{months}-months-{report["as_of"]}.csv"'
    )
    write_payback(response, report)
    return response
