"""The contacts import's bulk path on PostgreSQL: COPY into a staging table, then set-based
inserts (SPEC §9: "use the database's bulk path").

The chunked path (`campaigns.csvimport`) hands each row to the events API's batch door, which
validates it with the API's serializer and builds a model instance: about a millisecond a row.
This path decides each row with the same fields and rules, at a few microseconds:

1. **Stage.** Each row is read by `Stager`: its cells checked by the API's own input fields
   (`ContactInput`): texts by their length and NUL test, emails and times by the same parsers,
   the slugs, ids and codes by the fields themselves, once per distinct value. Then
   `rules.contact_values` decides the contact: identity, stage stamps, source (coupon,
   campaign, channel or alias), entry time, and `rules.first_touch_values` its first touch.
   A row any check is unsure of (a cell the fields refuse, an owner, a referral) is staged
   *slow*: the per-row door decides it later (its cells read from the file again), with the
   exact message.
   The staged rows stream into a TEMP table by COPY.
2. **Route.** A row that shares its key (external_id or email) with an earlier row of the
   file goes slow, after it, as calls one by one would see it; so does one whose email is a
   secondary email (kept by a merge).
3. **Insert.** The rest go into the contacts table by one INSERT ... SELECT in file order
   (`ON CONFLICT DO NOTHING`: a key already stored, or taken by a concurrent writer, skips
   the row), with their entry StageChange and first touch in the same statement.
4. **Skipped rows** are settled set-based: a stored external_id with the same identity is a
   replay ("already there"); one stored with another email is refused as "email in use",
   with the rules' message; anything else goes slow.
5. **Slow rows** go through the events batch door (`kind.apply`) in file order, in chunks.
6. The days of every new stamp are declared once, through the one change path.

Steps 2 to 6 run in one transaction: an interrupt or a crash leaves nothing of the file
written, and running it again does it all (rows already stored answer "already there").
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from psycopg.pq import TransactionStatus
from rest_framework import serializers

from campaigns.changes import declare_changed
from campaigns.csvimport import CHUNK, Outcome, Progress, Rejected, Row, apply_chunk
from campaigns.errors import DomainError
from campaigns.inputs import moment_refused
from leads import rules
from leads.bulk import BatchRefs
from leads.events import PERMISSIONS
from leads.models import Via
from leads.serializers import ContactInput

BLOCK = 50_000  # rows per COPY statement: progress is written between two
MEMO_LIMIT = 10_000  # distinct values remembered per reference column
EMAIL = re.compile(
    # A subset of what the API's email field takes (Django's EmailValidator): dot-atoms of
    # letters, digits, _ + - before the @; host labels and a TLD of letters after it. What it
    # does not take goes the per-row way and is decided by the field itself.
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}"
)
TEXTS = (
    "phone",
    "handle",
    "first_name",
    "last_name",
    "company",
    "notes",
    "utm_source",
    "heard_about",
    "external_id",
)
REFERENCES = (
    "source_channel",
    "source_campaign",
    "coupon",
    "stage",
    "touch_kind",
    "heard_channel",
)
FAST = frozenset(TEXTS) | frozenset(REFERENCES) | {"email", "entered_at"}
IDENTITY = rules.CONTACT_IDENTITY  # compared on a replay
STAMPS = rules.STAMP_NAMES
SLOW = object()
INERROR = TransactionStatus.INERROR
DEADLOCK = "40P01"
REFERENCED = (
    ("campaigns_channel", "source_channel_id"),
    ("campaigns_campaign", "source_campaign_id"),
    ("campaigns_coupon", "coupon_id"),
    ("campaigns_channel", "heard_channel_id"),
)


class Lookup(Exception):
    """A reference value not yet looked up: the COPY under way holds the connection, so the
    look-up waits for the end of its statement (`Stager.look_up`), then the row is staged."""

    def __init__(self, name: str, value: str) -> None:
        super().__init__(name, value)
        self.name, self.value = name, value


# The staged row: how it goes (slow), its keys, what a replay compares, the contact's columns.
STAGING = (
    ("line", "integer"),
    ("slow", "boolean"),
    ("external_id", "text"),
    ("email_key", "text"),
    ("plain", "boolean"),  # its identity cells are ASCII: PostgreSQL's lower() is Python's
    ("given_channel_id", "bigint"),
    *((f"given_{name}", "text") for name in IDENTITY),
    ("email", "text"),
    ("phone", "text"),
    ("phone_e164", "text"),
    ("handle", "text"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("company", "text"),
    ("notes", "text"),
    ("heard_about", "text"),
    ("stage", "text"),
    ("entered_at", "timestamptz"),
    *((name, "timestamptz") for name in STAMPS[1:]),
    ("source_channel_id", "bigint"),
    ("source_campaign_id", "bigint"),
    ("coupon_id", "bigint"),
    ("heard_channel_id", "bigint"),
    ("touch_kind", "text"),
    ("touch_source", "text"),
)
COLUMNS = [name for name, _ in STAGING]
CONTACT_COLUMNS = (
    "email",
    "phone",
    "phone_e164",
    "handle",
    "first_name",
    "last_name",
    "company",
    "notes",
    "heard_about",
    "stage",
    "external_id",
    "entered_at",
    *STAMPS[1:],
    "source_channel_id",
    "source_campaign_id",
    "coupon_id",
    "heard_channel_id",
)


class Stager:
    """Stages one row at a time: its contact's columns, decided by the API's input fields and
    `rules.contact_values`, or SLOW with its cells when any of them is unsure."""

    def __init__(self, kind: Any, user: Any) -> None:
        self.kind = kind
        # A user who may not add contacts gets the per-row door's refusal, row by row.
        self.permitted = user.has_perm(PERMISSIONS["contact"])
        self.refs = BatchRefs([])  # channels and aliases once; the rest one query per value
        self.refs.channel("direct")  # loads them, before any COPY holds the connection
        self.fields = ContactInput(context={"refs": self.refs}).fields
        # The fields' own limits: a longer text, or email, goes the per-row way.
        self.longest = {name: self.fields[name].max_length for name in (*TEXTS, "email")}
        self.memo: dict[str, dict[str, Any]] = {name: {} for name in REFERENCES}
        # The look-ups of the row being staged that a full memo could not keep.
        self.pending: dict[tuple[str, str], Any] = {}
        self.zone = self.fields["entered_at"].default_timezone()

    def row(self, row: Row) -> tuple:
        cells = row.cells
        key = self.kind.key(cells)
        email_key = rules.email_key(cells.get("email"))
        given = self._given(cells) if self.permitted else SLOW
        self.pending.clear()  # every look-up of this row was answered
        too_long = len(key) > self.longest["external_id"]
        decided = SLOW if given is SLOW or too_long else self._decide(given, key)
        if decided is SLOW:
            blank = (None,) * (len(COLUMNS) - 4)
            return (row.line, True, key, email_key, *blank)
        values, touch = decided
        channel = given.get("source_channel")
        return (
            row.line,
            False,
            key,
            email_key,
            all(value.isascii() for value in cells.values()),
            channel.pk if channel is not None else None,
            *(given.get(name) for name in IDENTITY),
            values["email"],
            values["phone"],
            values["phone_e164"],
            values["handle"],
            values["first_name"],
            values["last_name"],
            values["company"],
            values["notes"],
            values["heard_about"],
            values["stage"].value,
            values["entered_at"],
            *(values.get(name) for name in STAMPS[1:]),
            _pk(values.get("source_channel")),
            _pk(values.get("source_campaign")),
            _pk(values.get("coupon")),
            _pk(values.get("heard_channel")),
            touch["kind"] if touch else None,
            touch["source"] if touch else None,
        )

    def _given(self, cells: dict[str, str]) -> dict[str, Any] | object:
        """The cells as the API's fields read them, or SLOW."""
        if not cells.keys() <= FAST:
            return SLOW  # an owner or a referral: the per-row door's
        given: dict[str, Any] = {}
        for name, value in cells.items():
            if name in TEXTS:
                if len(value) > self.longest[name] or "\x00" in value:
                    return SLOW
                given[name] = value
            elif name == "email":
                if len(value) > self.longest["email"] or not EMAIL.fullmatch(value):
                    return SLOW
                given[name] = value
            elif name == "entered_at":
                moment = self._moment(value)
                if moment is SLOW:
                    return SLOW
                given[name] = moment
            else:
                found = self._reference(name, value)
                if found is SLOW:
                    return SLOW
                given[name] = found
        return given

    def _moment(self, value: str) -> dt.datetime | object:
        """A time as the API's field reads it (Django's ISO 8601 parser, the current time zone
        for a naive one), inside the calendar the product handles."""
        try:
            parsed = parse_datetime(value)
        except ValueError:
            return SLOW
        if parsed is None:
            return SLOW
        if parsed.tzinfo is not None:
            try:
                moment = parsed.astimezone(self.zone)  # the field's own step for an aware time
            except OverflowError:
                return SLOW
        else:
            try:
                moment = self.fields["entered_at"].enforce_timezone(parsed)
            except serializers.ValidationError:
                return SLOW
        return SLOW if moment_refused(moment) else moment

    def _reference(self, name: str, value: str) -> Any:
        memo = self.memo[name]
        if value in memo:
            return memo[value]
        if (name, value) in self.pending:
            return self.pending[name, value]
        raise Lookup(name, value)

    def look_up(self, name: str, value: str) -> None:
        """Read a reference value through its field (its row, or SLOW when the field refuses
        it) and remember it: at most `MEMO_LIMIT` values per column, beyond them until the row
        that needed it is staged."""
        try:
            found = self.fields[name].run_validation(value)
        except serializers.ValidationError:
            found = SLOW
        if len(self.memo[name]) < MEMO_LIMIT:
            self.memo[name][value] = found
        else:
            self.pending[name, value] = found

    def _decide(self, given: dict[str, Any], key: str) -> tuple[dict, dict | None] | object:
        """The contact's values and its first touch's, as `contacts_create_bulk` decides them
        for the same event (`leads.serializers.contact_arguments`), or SLOW."""
        arguments = {k: v for k, v in given.items() if k not in ("utm_source", "touch_kind")}
        arguments["source"] = given.get("utm_source", "")
        arguments["external_id"] = key
        try:
            values = rules.contact_values(refs=self.refs, **arguments)
        except DomainError:
            return SLOW
        touch = None
        if values.get("source_channel") is not None:
            touch = rules.first_touch_values(
                kind=given.get("touch_kind"), source=arguments["source"]
            )
        return values, touch


def _pk(row: Any) -> int | None:
    return row.pk if row is not None else None


def import_rows(
    rows: Iterator[Row],
    kind: Any,
    *,
    user: Any,
    outcome: Outcome,
    bar: Progress,
    reread: Callable[[], AbstractContextManager[Iterator[Row]]],
    on_chunk: Callable[[Outcome, int], None] | None = None,
) -> None:
    """Import contacts rows by the bulk path (see the module); `reread` opens the file's rows
    again, for the slow ones. A dry run calls it inside a transaction it rolls back."""
    _import(rows, kind, user, outcome, bar, on_chunk, reread)


def _import(rows, kind, user, outcome: Outcome, bar: Progress, on_chunk, reread) -> None:
    first: list[int] = []  # the first data line, once read
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS import_staging")
        columns = ", ".join(f"{name} {type_}" for name, type_ in STAGING)
        cursor.execute(f"CREATE TEMP TABLE import_staging ({columns})")
        landed = False  # the bulk rows are committed
        slow_line: list[int] = []  # the first line of the slow chunk being written
        try:
            _stage(rows, kind, user, cursor, outcome, bar, on_chunk, first)
            bar.update(outcome.rows, sys.maxsize, force=True)
            bar.say(f"Writing {outcome.rows:,} rows in one transaction...")
            created, unchanged, in_use = _write_retrying(cursor, user)
            landed = True
            outcome.created, outcome.unchanged = created, unchanged
            outcome.rejected += in_use
            _slow(cursor, kind, user, outcome, reread, slow_line)
        except KeyboardInterrupt:
            # Before the bulk rows landed nothing of the file was written: the next run does it
            # all. After, the slow chunk being written (and those after it) waits for it.
            if landed and slow_line:
                outcome.interrupted_at = slow_line[0]
            else:
                outcome.interrupted_at = first[0] if first else None
        finally:
            if connection.connection.info.transaction_status != INERROR:
                cursor.execute("DROP TABLE IF EXISTS import_staging")
            # Else the transaction it was made in is being rolled back, and the table with it.


def _stage(rows, kind, user, cursor, outcome: Outcome, bar: Progress, on_chunk, first) -> None:
    """Stream the rows into the staging table, a COPY per `BLOCK` rows (progress is written
    between two), or fewer when a reference must be looked up before the next row."""
    stager = Stager(kind, user)
    copy_sql = f"COPY import_staging ({', '.join(COLUMNS)}) FROM STDIN"
    # The header is read, and a refused file raises, before a COPY holds the connection.
    waiting: Row | None = next(rows, None)
    if waiting is not None:
        first.append(waiting.line)
    needed: tuple[str, str] | None = None  # a reference to look up before the waiting row
    while waiting is not None:
        if needed is not None:
            stager.look_up(*needed)
            needed = None
        count, line = 0, waiting.line
        with cursor.cursor.copy(copy_sql) as copy:
            for row in itertools.chain([waiting], rows):
                waiting = None
                try:
                    staged = stager.row(row)
                except Lookup as lookup:
                    waiting, needed = row, (lookup.name, lookup.value)
                    break
                copy.write_row(staged)
                line = row.line
                count += 1
                if count % 1000 == 0:
                    bar.update(outcome.rows + count, line)
                if count >= BLOCK:
                    waiting = next(rows, None)
                    break
        outcome.rows += count
        if on_chunk:
            on_chunk(outcome, line)


def _write_retrying(cursor, user) -> tuple[int, int, list[Rejected]]:
    """`_write` in one transaction, tried again (up to three times in all) when PostgreSQL
    breaks a deadlock with a concurrent writer by rolling it back: the staging table is as
    it was, so the next try starts clean."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                return _write(cursor, user)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != DEADLOCK or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _write(cursor, user) -> tuple[int, int, list[Rejected]]:
    """Route, insert, settle the skipped rows, declare the days: (created, already there,
    rejected as an email in use)."""
    cursor.execute("ANALYZE import_staging")
    # A merge must not add a secondary email that this file inserts as a primary one: the
    # secondary emails are read once, below, and stay as read until the end.
    cursor.execute("LOCK TABLE leads_contactemail IN SHARE MODE")
    _keep_references(cursor)
    _route(cursor)
    zone = timezone.get_current_timezone_name()
    contact_columns = ", ".join(CONTACT_COLUMNS)
    now = timezone.now()
    cursor.execute(
        f"""
        CREATE TEMP TABLE import_created AS
        WITH ins AS (
            INSERT INTO leads_contact ({contact_columns}, owner_id, referred_by_id,
                erased_at, created_at, updated_at, other_contact_points)
            SELECT {contact_columns}, NULL, NULL, NULL, %(now)s, %(now)s, ''
            FROM import_staging WHERE NOT slow ORDER BY line
            ON CONFLICT DO NOTHING
            RETURNING id, external_id, stage, source_channel_id, source_campaign_id,
                {", ".join(STAMPS)}
        ), changes AS (
            INSERT INTO leads_stagechange
                (contact_id, from_stage, to_stage, at, changed_by_id, via, forced, note,
                 recorded_at)
            SELECT id, '', stage, entered_at, %(by)s, %(via)s, false, '', %(now)s
            FROM ins ORDER BY id
        ), touches AS (
            INSERT INTO leads_touchpoint
                (contact_id, channel_id, campaign_id, kind, occurred_at, source, external_id,
                 metadata, created_at)
            SELECT ins.id, ins.source_channel_id, ins.source_campaign_id, s.touch_kind,
                ins.entered_at, s.touch_source, NULL, '{{}}'::jsonb, %(now)s
            FROM ins JOIN import_staging s ON s.external_id = ins.external_id
            WHERE s.touch_kind IS NOT NULL AND NOT s.slow
            ORDER BY ins.id
        )
        SELECT external_id, id,
            {", ".join(f"({name} AT TIME ZONE %(zone)s)::date AS {name}" for name in STAMPS)}
        FROM ins
        """,
        {"now": now, "by": getattr(user, "pk", None), "via": Via.IMPORT, "zone": zone},
    )
    cursor.execute("SELECT count(*) FROM import_created")
    created = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM import_staging WHERE NOT slow")
    unchanged, in_use = 0, []
    if cursor.fetchone()[0] > created:
        unchanged, in_use = _settle_skipped(cursor)
    cursor.execute(" UNION ".join(f"SELECT DISTINCT {name} FROM import_created" for name in STAMPS))
    declare_changed(moments=[day for (day,) in cursor.fetchall() if day is not None])
    cursor.execute("DROP TABLE IF EXISTS import_created, import_skipped")
    return created, unchanged, in_use


def _keep_references(cursor) -> None:
    """Lock the channels, campaigns and coupons the staged rows name against deletion until
    the file is written; a row whose reference was deleted since it was staged goes the
    per-row way (and is refused as naming an unknown one)."""
    for table, column in REFERENCED:
        cursor.execute(
            f"SELECT id FROM {table} WHERE id IN (SELECT DISTINCT {column} FROM import_staging"
            f" WHERE NOT slow) ORDER BY id FOR KEY SHARE"
        )
    gone = " OR ".join(
        f"({column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.id = {column}))"
        for table, column in REFERENCED
    )
    cursor.execute(f"UPDATE import_staging SET slow = true WHERE NOT slow AND ({gone})")


def _route(cursor) -> None:
    """Rows that must go the per-row way: a later row sharing a key with an earlier one (it
    sees the earlier one's write, in file order), a row whose email is a secondary email."""
    cursor.execute(
        """
        WITH later AS (
            SELECT line, row_number() OVER (PARTITION BY external_id ORDER BY line) AS n
            FROM import_staging
            WHERE external_id IN (
                SELECT external_id FROM import_staging GROUP BY 1 HAVING count(*) > 1)
            UNION ALL
            SELECT line, row_number() OVER (PARTITION BY email_key ORDER BY line)
            FROM import_staging
            WHERE email_key IN (
                SELECT email_key FROM import_staging WHERE email_key <> ''
                GROUP BY 1 HAVING count(*) > 1)
        )
        UPDATE import_staging s SET slow = true
        FROM later WHERE later.n > 1 AND s.line = later.line AND NOT s.slow
        """
    )
    cursor.execute(
        """
        UPDATE import_staging s SET slow = true
        WHERE NOT slow AND email_key IN (SELECT lower(email) FROM leads_contactemail)
        """
    )


def _settle_skipped(cursor) -> tuple[int, list[Rejected]]:
    """The fast rows the insert skipped: its key was stored. The same identity under a stored
    external_id is a replay; another contact's email is refused; the rest go slow."""
    replay = " AND ".join(
        f"(s.given_{name} IS NULL OR (lower(s.given_{name}) = lower(c.{name})"
        f" AND octet_length(c.{name}) = char_length(c.{name})))"
        for name in IDENTITY
    )
    cursor.execute(
        f"""
        CREATE TEMP TABLE import_skipped AS
        SELECT s.line, s.email, s.external_id, c.id AS stored_id,
            (c.id IS NOT NULL AND s.plain AND {replay}
             AND (s.given_channel_id IS NULL
                  OR s.given_channel_id IS NOT DISTINCT FROM c.source_channel_id)) AS same
        FROM import_staging s
        LEFT JOIN leads_contact c ON c.external_id = s.external_id
        WHERE NOT s.slow
          AND NOT EXISTS (SELECT 1 FROM import_created n WHERE n.external_id = s.external_id)
        """
    )
    cursor.execute("SELECT count(*) FROM import_skipped WHERE same")
    unchanged = cursor.fetchone()[0]
    # Not the same contact: another one holds the email (in use), else the row goes slow.
    cursor.execute(
        """
        SELECT k.line, k.email FROM import_skipped k
        WHERE k.stored_id IS NULL AND k.email <> '' AND EXISTS (
            SELECT 1 FROM leads_contact c WHERE lower(c.email) = lower(k.email) AND c.email <> '')
        ORDER BY k.line
        """
    )
    rejected = [
        Rejected(line, "email", rules.email_in_use(email).message)
        for line, email in cursor.fetchall()
    ]
    cursor.execute(
        """
        UPDATE import_staging s SET slow = true FROM import_skipped k
        WHERE k.line = s.line AND NOT k.same AND NOT k.line = ANY(%s)
        """,
        [[r.line for r in rejected]],
    )
    return unchanged, rejected


def _slow(cursor, kind, user, outcome: Outcome, reread, slow_line: list[int]) -> None:
    """The slow rows through the per-row door (`kind.apply`), in file order, after the bulk
    rows are committed, `CHUNK` at a time, each chunk in its own transaction as on the chunked
    path (so its email locks and savepoints do not pile up): their lines read from the
    staging table, their cells from the file again (read alongside: memory holds one chunk).
    `slow_line` names the first line of the chunk being written."""
    with reread() as rows:
        after = 0
        while True:
            cursor.execute(
                "SELECT line FROM import_staging WHERE slow AND line > %s ORDER BY line LIMIT %s",
                [after, CHUNK],
            )
            lines = [line for (line,) in cursor.fetchall()]
            if not lines:
                return
            after = lines[-1]
            slow_line[:] = [lines[0]]
            apply_chunk(_pick(rows, lines), kind, user, outcome)


def _pick(rows: Iterator[Row], lines: list[int]) -> list[Row]:
    """The rows at these lines (ascending), read on from where the last pick stopped."""
    picked = []
    for line in lines:
        for row in rows:
            if row.line == line:
                picked.append(row)
                break
    return picked
