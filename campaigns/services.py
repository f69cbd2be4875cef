"""The marketers' side: channel resolution, the catalogue (channels, aliases, campaigns,
coupons), costs and engagement. Every write of them goes through here, whatever the door (API,
admin, imports), and declares what it changed (`campaigns.changes`)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Model, ProtectedError
from django.utils import timezone

from campaigns.changes import declare_changed
from campaigns.errors import Conflict, InvalidInput, NotPermitted
from campaigns.models import (
    DEFAULT_CHANNEL_SLUGS,
    AdPlatform,
    Campaign,
    CampaignAlias,
    Channel,
    ChannelAlias,
    Cost,
    Coupon,
    EngagementStat,
    HourlyRate,
    ImportJob,
    ImportMapping,
    StaffMember,
    TimeEntry,
    is_future,
    normalize_phone,
)
from campaigns.numbers import fixed

ENGAGEMENT_FIELDS = (
    "impressions",
    "reach",
    "reactions",
    "comments",
    "shares",
    "clicks",
    "followers_gained",
)


def normalize_source(source: str | None) -> str:
    """Lower-case a utm_source or referrer, reduced to its host when it is a URL."""
    value = (source or "").strip().lower()
    if "://" in value:
        value = urlsplit(value).hostname or ""
    elif "/" in value:
        value = value.split("/", 1)[0]
    return value


def campaign_by_tracking_phone(phone: str, *, field: str = "tracking_phone") -> Campaign:
    campaign = (
        Campaign.objects.select_related("channel")
        .filter(tracking_phone=normalize_phone(phone) or None)
        .first()
    )
    if campaign is None:
        raise InvalidInput(f"No campaign uses the tracking phone {phone!r}.", field=field)
    return campaign


def not_after_today(day: dt.date, *, field: str) -> dt.date:
    """A cost or an engagement day is today at the latest (`is_future`)."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise InvalidInput("Must be a date.", field=field)
    if is_future(day):
        raise InvalidInput("Must not be in the future.", field=field)
    return day


def _assign(instance: Model, fields: dict[str, Any]) -> set[str]:
    """Set `fields` on `instance`; returns the names whose value changed."""
    changed = set()
    for name, value in fields.items():
        if getattr(instance, name) != value:
            changed.add(name)
        setattr(instance, name, value)
    return changed


def _delete(instance: Model, refusal: str) -> None:
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError:
        raise Conflict(refusal) from None


# --- channels and aliases ---------------------------------------------------------------------

# What the report rows show of a channel and of a campaign (labels, grouping, targets).
CHANNEL_SHOWN = {"slug", "name"}
CAMPAIGN_SHOWN = {"name", "channel", "target_leads", "target_cost_per_lead"}


def channel_save(*, channel: Channel | None = None, **fields: Any) -> Channel:
    """Create a channel, or change one; a new name or slug changes what reports show. A default
    channel keeps its slug (integrations send it); its name and kind may change."""
    with transaction.atomic():
        if channel is None:
            channel = Channel(**fields)
            channel.save()
            return channel
        stored = Channel.objects.select_for_update().get(pk=channel.pk)
        if stored.slug in DEFAULT_CHANNEL_SLUGS and fields.get("slug", stored.slug) != stored.slug:
            raise InvalidInput(
                f"{stored.slug} is a default channel: integrations send its slug, so it cannot "
                "change (its name can).",
                field="slug",
            )
        _assign(channel, fields)
        channel.save()
        declare_changed(
            catalogue=any(getattr(stored, n) != getattr(channel, n) for n in CHANNEL_SHOWN)
        )
    return channel


def channel_delete(*, channel: Channel) -> None:
    """A channel with campaigns, contacts or touches cannot go (it has figures), nor can a
    default channel (integrations send its slug, and unknown sources fall to two of them)."""
    if Channel.objects.filter(pk=channel.pk, slug__in=DEFAULT_CHANNEL_SLUGS).exists():
        raise Conflict(f"{channel.slug} is a default channel; it cannot be deleted.")
    _delete(channel, f"Channel {channel.slug} has campaigns, contacts or touches; it stays.")


def alias_save(*, alias: ChannelAlias | None = None, **fields: Any) -> ChannelAlias:
    """An alias only steers sources that arrive from now on: no reported figure changes."""
    if alias is None:
        alias = ChannelAlias(**fields)
    else:
        _assign(alias, fields)
    with transaction.atomic():
        alias.save()
    return alias


def campaign_names_keep(*, platform: str, names: Iterable[str]) -> None:
    """Keep an ad platform's campaign names that matched none of ours, unmapped, for a user to
    map once in the admin; names already kept are left as they are. Names steer later imports
    only: no reported figure changes."""
    CampaignAlias.objects.bulk_create(
        [
            CampaignAlias(platform=platform, name=name.strip(), name_key=name.strip().lower())
            for name in {n.strip().lower(): n for n in names if n.strip()}.values()
        ],
        ignore_conflicts=True,
    )


def campaign_name_save(*, alias: CampaignAlias | None = None, **fields: Any) -> CampaignAlias:
    """Map (or add) an ad platform's campaign name: later imports of that platform take it as
    the campaign; costs imported before stay where they were put."""
    if alias is None:
        alias = CampaignAlias(**fields)
    else:
        _assign(alias, fields)
    alias.name = alias.name.strip()
    alias.name_key = alias.name.lower()
    with transaction.atomic():
        alias.save()
    return alias


def campaign_name_delete(*, alias: CampaignAlias) -> None:
    with transaction.atomic():
        alias.delete()


def alias_delete(*, alias: ChannelAlias) -> None:
    with transaction.atomic():
        alias.delete()


# --- campaigns and coupons --------------------------------------------------------------------


def campaign_create(**fields: Any) -> Campaign:
    """A new campaign has no figures yet: nothing reported changes."""
    campaign = Campaign(**fields)
    with transaction.atomic():
        campaign.save()
    return campaign


def campaign_update(*, campaign: Campaign, **fields: Any) -> Campaign:
    """Change a campaign. Its channel may change only while no touch or contact is on it (they
    carry their channel), since its figures would split over two channels; a new name, channel
    or target changes what every report shows."""
    with transaction.atomic():
        stored = Campaign.objects.select_for_update().get(pk=campaign.pk)
        _assign(campaign, fields)
        if campaign.channel_id != stored.channel_id and (
            campaign.touchpoints.exists() or campaign.contacts.exists()
        ):
            raise Conflict(
                f"Campaign {stored.name!r} has touches or contacts on {stored.channel.slug}; "
                "its channel cannot change.",
                field="channel",
            )
        campaign.save()
        shown = {n for n in CAMPAIGN_SHOWN if getattr(stored, n) != getattr(campaign, n)}
        declare_changed(catalogue=bool(shown))
    return campaign


def campaign_delete(*, campaign: Campaign) -> None:
    """Delete a campaign with no contacts, touches or coupons; its costs and engagement go too."""
    with transaction.atomic():
        days = [
            *campaign.costs.values_list("incurred_on", flat=True),
            *campaign.engagement.values_list("date", flat=True),
        ]
        _delete(
            campaign,
            f"Campaign {campaign.name!r} has contacts, touchpoints or coupons; "
            "it cannot be deleted.",
        )
        declare_changed(moments=days, catalogue=True)


def coupon_save(*, coupon: Coupon | None = None, **fields: Any) -> Coupon:
    """Create or change a coupon. Once used, its campaign is fixed: the discounts it gave and
    the coupon touches it recorded belong to that campaign. No reported figure changes."""
    with transaction.atomic():
        if coupon is None:
            coupon = Coupon(**fields)
        else:
            stored = Coupon.objects.select_for_update().get(pk=coupon.pk)
            _assign(coupon, fields)
            if coupon.campaign_id != stored.campaign_id and (
                stored.redemptions or coupon.purchases.exists() or coupon.contacts.exists()
            ):
                raise Conflict(
                    f"Coupon {stored.code} was used; its campaign cannot change.",
                    field="campaign",
                )
        coupon.save()
    return coupon


def coupon_delete(*, coupon: Coupon) -> None:
    _delete(coupon, "The coupon was used; deactivate it instead of deleting it.")


# --- costs ------------------------------------------------------------------------------------


def _cost_checked(cost: Cost) -> Cost:
    not_after_today(cost.incurred_on, field="incurred_on")
    if cost.amount is None or Decimal(cost.amount) < 0:
        raise InvalidInput("Must not be negative.", field="amount")
    return cost


def cost_create(**fields: Any) -> Cost:
    """Record what a campaign cost on a day (a past day's cost is late data for its reports)."""
    cost = _cost_checked(Cost(**fields))
    with transaction.atomic():
        cost.save()
        declare_changed(moments=[cost.incurred_on])
    return cost


def _not_a_time_entrys(cost: Cost) -> None:
    if TimeEntry.objects.filter(cost_id=cost.pk).exists():
        raise Conflict("This cost is a time entry's: change or delete the time entry instead.")


def cost_update(*, cost: Cost, entry: bool = False, **fields: Any) -> Cost:
    """Change a cost: the day it left and the day it moved to both change. A time entry's cost
    changes only with its entry (`entry=True`, from the time entry services)."""
    if not entry:
        _not_a_time_entrys(cost)
    with transaction.atomic():
        stored = Cost.objects.select_for_update().get(pk=cost.pk)
        _assign(cost, fields)
        _cost_checked(cost)
        cost.save()
        declare_changed(moments=[stored.incurred_on, cost.incurred_on])
    return cost


def cost_delete(*, cost: Cost, entry: bool = False) -> None:
    if not entry:
        _not_a_time_entrys(cost)
    with transaction.atomic():
        day = Cost.objects.filter(pk=cost.pk).values_list("incurred_on", flat=True).first()
        cost.delete()
        declare_changed(moments=[day])


# --- staff time -------------------------------------------------------------------------------

MAX_HOURS_A_DAY = Decimal("24")


def staff_save(*, staff: StaffMember | None = None, **fields: Any) -> StaffMember:
    """Add or rename a staff member (no cost changes: costs follow entries and rates)."""
    if staff is None:
        staff = StaffMember(**fields)
    else:
        _assign(staff, fields)
    with transaction.atomic():
        staff.save()
    return staff


def staff_delete(*, staff: StaffMember) -> None:
    _delete(staff, f"{staff} has time entries; mark them inactive instead.")


def rate_on(rates: list[HourlyRate], day: dt.date) -> Decimal | None:
    """The rate of `day` among one staff member's rates sorted by effective_from, newest
    first: the latest that starts on or before it."""
    for rate in rates:
        if rate.effective_from <= day:
            return rate.rate
    return None


def _rates(staff: StaffMember) -> list[HourlyRate]:
    return list(HourlyRate.objects.filter(staff=staff).order_by("-effective_from"))


def _entry_amount(hours: Decimal, rate: Decimal) -> Decimal:
    return fixed(Decimal(hours) * rate, 2)


def hourly_rate_save(*, hourly_rate: HourlyRate | None = None, **fields: Any) -> HourlyRate:
    """Set a staff member's rate from a day on. Only the time entries from the earliest day
    concerned (the rate's old or new day) change: they are repriced at their day's rate, and
    their days are declared changed."""
    with transaction.atomic():
        before = None
        rate = hourly_rate
        if rate is None:
            rate = HourlyRate(**fields)
        else:
            before = HourlyRate.objects.select_for_update().get(pk=rate.pk).effective_from
            _assign(rate, fields)
        if rate.rate is None or Decimal(rate.rate) < 0:
            raise InvalidInput("Must not be negative.", field="rate")
        if not isinstance(rate.effective_from, dt.date):
            raise InvalidInput("Must be a date.", field="effective_from")
        clash = HourlyRate.objects.filter(
            staff_id=rate.staff_id, effective_from=rate.effective_from
        ).exclude(pk=rate.pk)
        if clash.exists():
            raise Conflict(
                f"{rate.staff} already has a rate from {rate.effective_from}.",
                field="effective_from",
            )
        rate.save()
        _reprice(rate.staff, since=min(filter(None, [before, rate.effective_from])))
    return rate


def hourly_rate_delete(*, hourly_rate: HourlyRate) -> None:
    """Drop a rate: its entries take the rate before it; refused when none is there."""
    with transaction.atomic():
        hourly_rate.delete()
        _reprice(hourly_rate.staff, since=hourly_rate.effective_from)


def _reprice(staff: StaffMember, *, since: dt.date) -> None:
    """Every time entry of `staff` from `since` on, at its day's rate: the costs that change
    are written in one statement and their days declared."""
    rates = _rates(staff)
    entries = list(TimeEntry.objects.filter(staff=staff, date__gte=since).select_related("cost"))
    changed = []
    for entry in entries:
        rate = rate_on(rates, entry.date)
        if rate is None:
            raise Conflict(
                f"{staff} would have no hourly rate on {entry.date}, which has time entries.",
                field="effective_from",
            )
        amount = _entry_amount(entry.hours, rate)
        if entry.cost.amount != amount:
            entry.cost.amount = amount
            changed.append(entry.cost)
    if changed:
        Cost.objects.bulk_update(changed, ["amount"])
        declare_changed(moments=[cost.incurred_on for cost in changed])


def _entry_checked(staff: StaffMember, day: dt.date, hours: Any) -> tuple[Decimal, Decimal]:
    not_after_today(day, field="date")
    try:
        hours = Decimal(hours)
    except (TypeError, ArithmeticError):
        raise InvalidInput("Must be a number of hours.", field="hours") from None
    if not hours.is_finite() or hours <= 0 or hours > MAX_HOURS_A_DAY:
        raise InvalidInput("Must be more than 0 and at most 24 hours.", field="hours")
    if hours != hours.quantize(Decimal("0.01")):
        raise InvalidInput("At most two decimals (0.25 is a quarter hour).", field="hours")
    rate = rate_on(_rates(staff), day)
    if rate is None:
        raise InvalidInput(f"{staff} has no hourly rate on {day}: add one first.", field="date")
    return hours, rate


def _hours(value: Any) -> Decimal:
    try:
        hours = Decimal(str(value).strip())
    except ArithmeticError:
        raise InvalidInput("Must be a number of hours.", field="hours") from None
    if not hours.is_finite():
        raise InvalidInput("Must be a number of hours.", field="hours")
    return hours


def _entry_note(staff: StaffMember, hours: Decimal, note: str) -> str:
    return (f"{staff}: {hours} h" + (f", {note}" if note else ""))[:300]


def time_entry_save(
    *,
    entry: TimeEntry | None = None,
    staff: StaffMember,
    campaign: Campaign,
    date: dt.date,
    hours: Any,
    note: str = "",
) -> TimeEntry:
    """Record (or change) hours spent on a campaign on a day: its `staff_time` cost is the hours
    at that day's rate, written through the cost services (which declare the days)."""
    hours, rate = _entry_checked(staff, date, hours)
    fields = {
        "campaign": campaign,
        "incurred_on": date,
        "amount": _entry_amount(hours, rate),
        "category": Cost.Category.STAFF_TIME,
        "note": _entry_note(staff, hours, note),
    }
    with transaction.atomic():
        same_day = TimeEntry.objects.filter(staff=staff, campaign=campaign, date=date)
        if same_day.exclude(pk=entry.pk if entry else None).exists():
            raise Conflict(
                f"{staff} already has hours on {campaign} on {date}: change those.", field="date"
            )
        if entry is None:
            entry = TimeEntry(
                staff=staff,
                campaign=campaign,
                date=date,
                hours=hours,
                note=note,
                cost=cost_create(**fields),
            )
        else:
            cost_update(cost=entry.cost, entry=True, **fields)
            entry.staff, entry.campaign, entry.date = staff, campaign, date
            entry.hours, entry.note = hours, note
        entry.save()
    return entry


def time_entry_delete(*, entry: TimeEntry) -> None:
    """Drop hours: their cost goes with them (its day declared changed)."""
    with transaction.atomic():
        cost_delete(cost=entry.cost, entry=True)


def timesheet_save(
    *, staff: StaffMember, hours: dict[tuple[int, dt.date], Any], note: str = ""
) -> int:
    """A week of a staff member's hours per (campaign id, day): new hours are recorded,
    changed ones updated, emptied (0 or None) ones deleted, all in one transaction: one bad cell
    (its key is in the error's field, "campaign id:day") saves nothing. Returns the number of
    entries written or deleted."""
    if not hours:
        return 0
    days = {day for _, day in hours}
    campaigns = Campaign.objects.in_bulk({campaign_id for campaign_id, _ in hours})
    written = 0
    with transaction.atomic():
        stored = {
            (e.campaign_id, e.date): e
            for e in TimeEntry.objects.filter(staff=staff, date__in=days)
            .select_related("cost")
            .select_for_update()
        }
        for (campaign_id, day), value in sorted(hours.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            entry = stored.get((campaign_id, day))
            try:
                empty = value in (None, "") or _hours(value) == 0
                if empty:
                    if entry is not None:
                        time_entry_delete(entry=entry)
                        written += 1
                    continue
                if campaign_id not in campaigns:
                    raise InvalidInput("No such campaign.", field="campaign")
                if entry is not None and entry.hours == _hours(value):
                    continue
                time_entry_save(
                    entry=entry,
                    staff=staff,
                    campaign=campaigns[campaign_id],
                    date=day,
                    hours=value,
                    note=entry.note if entry is not None else note,
                )
                written += 1
            except InvalidInput as exc:
                raise InvalidInput(exc.message, field=f"{campaign_id}:{day.isoformat()}") from None
        totals: dict[dt.date, Decimal] = {}
        for entry in TimeEntry.objects.filter(staff=staff, date__in=days):
            totals[entry.date] = totals.get(entry.date, Decimal("0")) + entry.hours
        for day, total in sorted(totals.items()):
            if total > MAX_HOURS_A_DAY:
                raise InvalidInput(
                    f"{total} hours on {day}: a day has 24 at most.", field=f"day:{day.isoformat()}"
                )
    return written


# --- engagement -------------------------------------------------------------------------------


def _engagement_values(figures: dict[str, Any]) -> dict[str, int]:
    unknown = set(figures) - set(ENGAGEMENT_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown engagement figures: {', '.join(sorted(unknown))}.")
    values = {name: int(figures.get(name) or 0) for name in ENGAGEMENT_FIELDS}
    for name, value in values.items():
        if value < 0:
            raise InvalidInput("Must not be negative.", field=name)
    return values


def engagement_upsert(*, campaign: Campaign, date: dt.date, **figures: int) -> EngagementStat:
    """Write one campaign-day of engagement; a second write for the same day replaces the first.

    One INSERT .. ON CONFLICT DO UPDATE, so two writers for the same day cannot both insert.
    """
    values = _engagement_values(figures)
    not_after_today(date, field="date")
    with transaction.atomic():
        EngagementStat.objects.bulk_create(
            [EngagementStat(campaign=campaign, date=date, **values)],
            update_conflicts=True,
            unique_fields=["campaign", "date"],
            update_fields=list(ENGAGEMENT_FIELDS),
        )
        row = EngagementStat.objects.get(campaign=campaign, date=date)
        declare_changed(moments=[date])
    return row


def engagement_update(*, stat: EngagementStat, **fields: Any) -> EngagementStat:
    """Change a stored engagement row (the admin's form), its day or campaign included."""
    figures = {k: v for k, v in fields.items() if k in ENGAGEMENT_FIELDS}
    _engagement_values(figures)
    with transaction.atomic():
        stored = EngagementStat.objects.select_for_update().get(pk=stat.pk)
        _assign(stat, fields)
        not_after_today(stat.date, field="date")
        stat.save()
        declare_changed(moments=[stored.date, stat.date])
    return stat


def engagement_delete(*, stat: EngagementStat) -> None:
    with transaction.atomic():
        day = EngagementStat.objects.filter(pk=stat.pk).values_list("date", flat=True).first()
        stat.delete()
        declare_changed(moments=[day])


# --- imports started in the admin --------------------------------------------------------------

PREVIEW_ROWS = 10
MAX_STORED_REJECTIONS = 10_000


def _header_key(header: list[str]) -> str:
    text = "\x1f".join(name.strip().lower() for name in header)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_head(data: bytes, rows: int) -> tuple[list[str], list[list[str]]]:
    """The first line's names and the next `rows` rows of an uploaded file."""
    from campaigns.csvimport import SNIFF_BYTES, sniff_dialect

    text = data[: SNIFF_BYTES * 4].decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text), sniff_dialect(text[:SNIFF_BYTES]))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return [], []
    body = []
    for row in reader:
        if len(body) >= rows:
            break
        body.append(row)
    return header, body


def import_job_create(
    *, kind: str, file_name: str, data: bytes, user: Any, platform: str = ""
) -> ImportJob:
    """Keep an uploaded file as an import job waiting for its column mapping: refused at once
    (nothing kept) when the user may not import that kind or the file cannot be imported at all
    (not UTF-8, empty)."""
    from campaigns.csvimport import FileRefused, check_encoding
    from campaigns.imports import ADMIN_KINDS, kind_for

    if kind not in ADMIN_KINDS:
        raise InvalidInput(f"Choose one of: {', '.join(ADMIN_KINDS)}.", field="kind")
    if not user.has_perm(ADMIN_KINDS[kind][1]):
        raise NotPermitted(f"You may not import {ADMIN_KINDS[kind][0].lower()}.", field="kind")
    if kind == "ad_costs" and platform not in AdPlatform.values:
        raise InvalidInput("Choose the ad platform the file comes from.", field="platform")
    if not data:
        raise InvalidInput("The file is empty.", field="file")
    with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
        handle.write(data)
        handle.flush()
        try:
            lines = check_encoding(Path(handle.name))
        except FileRefused as exc:
            raise InvalidInput(str(exc), field="file") from None
    header, _ = _read_head(data, 0)
    if not any(name.strip() for name in header):
        raise InvalidInput("The file is empty: its first line must name the columns.", field="file")
    columns = kind_for(kind, platform).columns if kind != "ad_costs" else ()
    remembered = ImportMapping.objects.filter(kind=kind, header_key=_header_key(header)).first()
    if remembered is not None:
        mapping = remembered.mapping
    else:
        mapping = {
            name: name.strip().lower() if name.strip().lower() in columns else "" for name in header
        }
    with transaction.atomic():
        return ImportJob.objects.create(
            kind=kind,
            platform=platform if kind == "ad_costs" else "",
            file_name=file_name[:255],
            data=data,
            lines=lines,
            header=header,
            mapping=mapping,
            user=user if getattr(user, "pk", None) else None,
        )


def import_job_preview(job: ImportJob) -> list[list[str]]:
    """The first rows of the job's file, as read for the mapping page."""
    return _read_head(bytes(job.data), PREVIEW_ROWS)[1]


def import_job_start(
    *, job: ImportJob, mapping: dict[str, str], dry_run: bool = False
) -> ImportJob:
    """Check the column mapping (each of our columns from one file column at most, the required
    ones present), remember it for the next file with these columns, and queue the job."""
    from campaigns.imports import kind_for

    if job.status != ImportJob.Status.DRAFT:
        raise Conflict("This import has started already.")
    kind = kind_for(job.kind, job.platform)
    if job.kind != "ad_costs":
        unknown = mapping.keys() - set(job.header)
        if unknown:
            raise InvalidInput(f"Not a column of the file: {', '.join(sorted(unknown))}.")
        targets = [target for target in mapping.values() if target]
        for target in targets:
            if target not in kind.columns:
                raise InvalidInput(f"{target!r} is not a column of {kind.name}.", field=target)
            if targets.count(target) > 1:
                raise InvalidInput(f"Two columns of the file are mapped to {target}.", field=target)
        for required in kind.required:
            if required not in targets:
                raise InvalidInput(f"Map a column of the file to {required}.", field=required)
    with transaction.atomic():
        ImportMapping.objects.update_or_create(
            kind=job.kind, header_key=_header_key(job.header), defaults={"mapping": mapping}
        )
        updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DRAFT).update(
            status=ImportJob.Status.PENDING, mapping=mapping, dry_run=dry_run
        )
        if not updated:
            raise Conflict("This import has started already.")
        _enqueue_import(job.pk)
    job.refresh_from_db()
    return job


def _enqueue_import(job_id: int) -> None:
    from campaigns.tasks import run_import

    def send() -> None:
        try:
            run_import.delay(job_id)
        except Exception as exc:  # the broker is away: say so on the job, do not fail the request
            ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
                status=ImportJob.Status.FAILED,
                error=f"The job queue is unavailable ({exc}); upload the file again later.",
                finished_at=timezone.now(),
            )

    transaction.on_commit(send, robust=True)


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import job (a no-op when another worker has it or it is gone): the file
    through the import engine with the job's mapping, by the user who started it; progress
    written after every chunk, then the counts and the rejected rows."""
    from campaigns.csvimport import FileRefused, import_file
    from campaigns.imports import MappedKind, kind_for

    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = ImportJob.objects.get(pk=job_id)
    if job.user is None or not job.user.is_active:
        return _job_failed(job, "The user who started this import is gone.")
    kind = kind_for(job.kind, job.platform)
    if job.kind != "ad_costs":
        kind = MappedKind(kind, job.mapping)

    def progress(outcome, line: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            line=line,
            rows=outcome.rows,
            created=outcome.created,
            unchanged=outcome.unchanged,
            skipped=outcome.skipped,
        )

    with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
        handle.write(bytes(job.data))
        handle.flush()
        try:
            outcome = import_file(
                Path(handle.name), kind, user=job.user, dry_run=job.dry_run, on_chunk=progress
            )
        except FileRefused as exc:
            return _job_failed(job, str(exc))
        except Exception as exc:
            # Not left "running" for ever: the job says it stopped, and the worker logs why.
            _job_failed(
                job,
                f"The import stopped with an error ({type(exc).__name__}). Rows already"
                " imported stay; upload the file again to import the rest.",
            )
            raise
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.DONE,
        line=job.lines,
        rows=outcome.rows,
        created=outcome.created,
        unchanged=outcome.unchanged,
        skipped=outcome.skipped,
        rejected=[[r.line, r.column, r.reason] for r in outcome.rejected[:MAX_STORED_REJECTIONS]],
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def _job_failed(job: ImportJob, error: str) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED, error=error, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def import_job_delete(*, job: ImportJob) -> None:
    """Forget an import job and its file (what it imported stays)."""
    if job.status == ImportJob.Status.RUNNING:
        raise Conflict("This import is running; delete it once it is done.")
    with transaction.atomic():
        job.delete()
