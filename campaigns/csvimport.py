"""The CSV import engine (SPEC §9): a file's rows, checked and applied in chunks, one kind at a
time (contacts, touchpoints, purchases, costs: `leads.imports`, `campaigns.imports`).

A file is UTF-8 (with or without a byte order mark), its fields separated by commas or by
semicolons (as a spreadsheet saves it where the comma is the decimal mark), quoted as CSV
quotes them; its first line names the columns, in any order and case. A file that is not UTF-8,
or that names a column the kind does not know or lacks one it needs, is refused as a whole,
before anything is written, with the line or the columns at fault. Then each row is checked and
applied by the kind, in chunks of `CHUNK` rows, each chunk in one transaction: a good row lands,
a bad one is rejected with its line number, its column and the reason, and a crash or an
interrupt leaves the chunk being written unwritten. Rows are idempotent (on their external_id,
or a key derived from the row when the file has none), so running a file again, whole or after
a stop, changes only what did not land the first time.

The file is read twice, streaming both times (memory does not grow with its size): once to
check its encoding and count its lines (for the progress and its ETA), once to import it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from django.db import connection, transaction

CHUNK = 1000
PREAMBLE_LINES = 20  # an ad platform's export may put a title and a date range above its header
SNIFF_BYTES = 64 * 1024
READ_BYTES = 1024 * 1024
MAX_FIELD = 100_000  # characters in one cell (csv's own limit is 131,072)


class FileRefused(Exception):
    """The file cannot be imported at all; nothing was written."""


@dataclass(frozen=True)
class Rejected:
    """A row that did not land: its line in the file, the column at fault ("" for the row as
    a whole) and why."""

    line: int
    column: str
    reason: str


@dataclass
class Outcome:
    """What an import did: rows read, created, already there (unchanged), rejected."""

    rows: int = 0
    created: int = 0
    unchanged: int = 0
    skipped: int = 0  # lines that are no data (an export's total line)
    rejected: list[Rejected] = field(default_factory=list)
    dry_run: bool = False
    interrupted_at: int | None = None  # the first line not imported, when stopped
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        verb = "would be created" if self.dry_run else "created"
        skipped = f", {self.skipped:,} skipped (totals)" if self.skipped else ""
        return (
            f"{self.rows:,} rows: {self.created:,} {verb}, {self.unchanged:,} already there"
            f"{skipped}, {len(self.rejected):,} rejected ({self.rate:,.0f} rows/s)."
        )


@dataclass
class Row:
    """One data row: its first line in the file and its cells by column (empty cells left out)."""

    line: int
    cells: dict[str, str]


class Kind(Protocol):
    """What one kind of import knows: its columns and how to apply a chunk of rows."""

    name: str
    columns: tuple[str, ...]  # every column it takes
    required: tuple[str, ...]  # columns a file must have
    # Optional: `header(names)` maps a file's header to the names its cells are kept under
    # ("" for a column it ignores) or raises FileRefused; `preamble` lets the header be found
    # below a few title lines; `whole_file` applies every row in one chunk (rows that add up).

    def apply(self, rows: list[Row], *, user: Any) -> list[tuple[str, list[Rejected]]]:
        """Per row, in order: ("created" | "unchanged" | "skipped" | "rejected", its
        rejections)."""
        ...


def row_key(kind: str, cells: dict[str, str]) -> str:
    """A stable key for a row that has no external_id: the same cells give the same key, so a
    file imported twice is recognised (two rows identical in every cell are one)."""
    text = "\x1f".join(f"{k}={cells[k]}" for k in sorted(cells))
    return f"import:{kind}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def check_encoding(path: Path) -> int:
    """Decode the whole file as UTF-8 (streaming); return its number of lines. A byte that is
    not UTF-8 refuses the file, naming its line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, offset = 0, 0
    with path.open("rb") as raw:
        while block := raw.read(READ_BYTES):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                line = lines + block[: exc.start].count(b"\n") + 1
                raise FileRefused(
                    f"Line {line} is not UTF-8 (byte {offset + exc.start + 1} of the file). Save "
                    'the file as "CSV UTF-8" and import it again.'
                ) from None
            lines += block.count(b"\n")
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise FileRefused("The file ends in the middle of a UTF-8 character.") from None
    return lines


def sniff_dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    # The first lines, not a whole 64 KB block: a quoted cell further down must not sway it.
    lines = "\n".join(sample.split("\n")[:PREAMBLE_LINES])
    try:
        return csv.Sniffer().sniff(lines, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _header(names: list[str], kind: Kind) -> list[str]:
    if hasattr(kind, "header"):
        return kind.header(names)
    return default_header(names, kind)


def default_header(names: list[str], kind: Kind) -> list[str]:
    """A file's column names (any case) checked against the kind's: none unknown or named
    twice, none required missing; "" names a column to ignore."""
    columns = [name.strip().lower() for name in names]
    unknown = [name for name in columns if name and name not in kind.columns]
    if unknown:
        raise FileRefused(
            f"Unknown column(s) for {kind.name}: {', '.join(unknown)}. "
            f"The columns are: {', '.join(kind.columns)}."
        )
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        raise FileRefused(f"Column(s) named twice: {', '.join(repeated)}.")
    missing = [name for name in kind.required if name not in columns]
    if missing:
        raise FileRefused(f"Missing column(s) for {kind.name}: {', '.join(missing)}.")
    return columns


def read_rows(text: IO[str], kind: Kind, rejected: list[Rejected]) -> Iterator[Row]:
    """The file's rows as `Row`s; a row with the wrong number of cells is rejected here."""
    sample = text.read(SNIFF_BYTES)
    text.seek(0)
    reader = csv.reader(text, sniff_dialect(sample))
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused("The file is empty: its first line must name the columns.") from None
    except csv.Error as exc:
        raise FileRefused(f"Line 1: {exc}.") from None
    preamble = getattr(kind, "preamble", False)
    first_refusal: FileRefused | None = None
    while True:
        try:
            columns = _header(header, kind)
            break
        except FileRefused as refused:
            # A title or a date range above the header: look further, a few lines at most.
            first_refusal = first_refusal or refused
            if not preamble or reader.line_num >= PREAMBLE_LINES:
                raise first_refusal from None
            try:
                header = next(reader)
            except (StopIteration, csv.Error):
                raise first_refusal from None
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            rejected.append(Rejected(line, "", f"Not readable as CSV: {exc}."))
            line = reader.line_num + 1
            continue
        first, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(columns):
            rejected.append(
                Rejected(first, "", f"Expected {len(columns)} cells, found {len(cells)}.")
            )
            continue
        values = {name: cell.strip() for name, cell in zip(columns, cells, strict=True) if name}
        yield Row(first, {name: value for name, value in values.items() if value != ""})


class Progress:
    """A one-line progress bar on a terminal: rows, rows/s and the time left."""

    def __init__(self, out: IO[str] | None, total_lines: int) -> None:
        self.out, self.total, self.started, self.shown = (
            out,
            max(total_lines, 1),
            time.monotonic(),
            0.0,
        )

    def update(self, rows: int, line: int, *, force: bool = False) -> None:
        if self.out is None:
            return
        now = time.monotonic()
        if now - self.shown < 0.2 and not force:
            return
        self.shown = now
        elapsed = now - self.started
        rate = rows / elapsed if elapsed else 0.0
        share = min(line / self.total, 1.0)
        left = (elapsed / share - elapsed) if share else 0.0
        bar = "#" * int(share * 30)
        self.out.write(
            f"\r[{bar:<30}] {share:6.1%} {rows:>10,} rows {rate:>9,.0f} rows/s  ETA {left:5.0f} s"
        )
        self.out.flush()

    def say(self, text: str) -> None:
        """A line under the bar: what a long step after the reading is doing."""
        if self.out is not None:
            self.out.write(f"\n{text}")
            self.out.flush()

    def done(self) -> None:
        if self.out is not None:
            self.out.write("\n")
            self.out.flush()


def import_file(
    path: str | Path,
    kind: Kind,
    *,
    user: Any,
    dry_run: bool = False,
    chunk: int = CHUNK,
    progress: IO[str] | None = None,
    on_chunk: Callable[[Outcome, int], None] | None = None,
    bulk: bool = True,
) -> Outcome:
    """Import the CSV file at `path` as rows of `kind`, by `user`. With `dry_run`, everything
    is checked and applied in one transaction that is rolled back: the outcome says what would
    happen, nothing is kept. Raises `FileRefused` when the file cannot be imported at all. An
    interrupt (Ctrl-C) stops at a chunk's edge: `interrupted_at` names the first line not
    imported.

    A kind with a bulk path of its own (`kind.copy`: contacts, `leads.copyimport`) takes it on
    PostgreSQL unless `bulk` is False: the rows are staged by COPY and written set-based, in
    one transaction (an interrupt leaves the whole file unwritten)."""
    path = Path(path)
    if getattr(kind, "whole_file", False):
        chunk = sys.maxsize
    csv.field_size_limit(MAX_FIELD)
    lines = check_encoding(path)
    outcome = Outcome(dry_run=dry_run)
    bar = Progress(progress, lines)
    started = time.monotonic()
    with path.open(encoding="utf-8-sig", newline="") as text:
        rows = read_rows(text, kind, outcome.rejected)
        copy = getattr(kind, "copy", None) if bulk else None
        if copy is not None and connection.vendor == "postgresql":

            @contextlib.contextmanager
            def reread() -> Iterator[Iterator[Row]]:
                with path.open(encoding="utf-8-sig", newline="") as again:
                    yield read_rows(again, kind, [])

            def run() -> None:
                copy(
                    rows,
                    kind,
                    user=user,
                    outcome=outcome,
                    bar=bar,
                    reread=reread,
                    on_chunk=on_chunk,
                )
        else:

            def run() -> None:
                _run(rows, kind, user, chunk, outcome, bar, on_chunk)

        if dry_run:
            with transaction.atomic():
                run()
                transaction.set_rollback(True)
        else:
            run()
    bar.done()
    outcome.seconds = time.monotonic() - started
    outcome.rejected.sort(key=lambda r: r.line)
    return outcome


def _run(rows, kind: Kind, user, chunk: int, outcome: Outcome, bar: Progress, on_chunk) -> None:
    batch: list[Row] = []
    try:
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                apply_chunk(batch, kind, user, outcome)
                outcome.rows += len(batch)
                bar.update(outcome.rows, batch[-1].line)
                if on_chunk:
                    on_chunk(outcome, batch[-1].line)
                batch = []
        if batch:
            apply_chunk(batch, kind, user, outcome)
            outcome.rows += len(batch)
            if on_chunk:
                on_chunk(outcome, batch[-1].line)
    except KeyboardInterrupt:
        # The chunk being written was rolled back with its transaction: it and what follows
        # are for the next run, which skips what landed.
        outcome.interrupted_at = batch[0].line if batch else None


def apply_chunk(batch: list[Row], kind: Kind, user, outcome: Outcome) -> None:
    """Apply a chunk of rows in one transaction and count what became of each."""
    with transaction.atomic():
        results = kind.apply(batch, user=user)
    for row, (status, rejections) in zip(batch, results, strict=True):
        if status == "created":
            outcome.created += 1
        elif status == "unchanged":
            outcome.unchanged += 1
        elif status == "skipped":
            outcome.skipped += 1
        else:
            outcome.rejected += rejections or [Rejected(row.line, "", "Rejected.")]


def write_rejected(out: IO[str], rejected: list[Rejected]) -> None:
    """The rejected rows as CSV: line, column, reason."""
    writer = csv.writer(out)
    writer.writerow(["line", "column", "reason"])
    for item in rejected:
        writer.writerow([item.line, item.column, item.reason])


def rejected_csv(rejected: list[Rejected]) -> str:
    out = io.StringIO()
    write_rejected(out, rejected)
    return out.getvalue()


class Operator:
    """Who runs an import from the terminal without `--user`: allowed everything, recorded in
    the history as no user (the history still says the change came through an import)."""

    pk = None
    is_active = True

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return True


def add_arguments(parser) -> None:
    """The import commands' options."""
    parser.add_argument("file", help="The CSV file (UTF-8, comma or semicolon separated).")
    parser.add_argument(
        "--dry-run", action="store_true", help="Check and count everything, write nothing."
    )
    parser.add_argument(
        "--rejected",
        help="Where to write the rejected rows (line, column, reason); default: FILE.rejected.csv",
    )
    parser.add_argument("--user", help="The user the history records (default: none).")
    parser.add_argument("--chunk", type=int, default=CHUNK, help="Rows per transaction.")


def run_command(command, kind: Kind, options: dict) -> None:
    """An import command's body: import, report, write the rejected rows, set the exit code
    (1 when rows were rejected, 130 when interrupted)."""
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    user: Any = Operator()
    if options.get("user"):
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user is named {options['user']!r}.")
    if options["chunk"] < 1:
        raise CommandError("--chunk must be at least 1.")
    path = Path(options["file"])
    if not path.is_file():
        raise CommandError(f"No file at {path}.")
    progress = command.stderr._out if command.stderr.isatty() else None
    try:
        outcome = import_file(
            path,
            kind,
            user=user,
            dry_run=options["dry_run"],
            chunk=options["chunk"],
            progress=progress,
        )
    except FileRefused as exc:
        raise CommandError(f"{path}: {exc} Nothing was imported.") from None
    command.stdout.write(("Dry run: " if outcome.dry_run else "") + outcome.summary())
    if outcome.rejected:
        target = Path(options.get("rejected") or f"{path}.rejected.csv")
        with target.open("w", encoding="utf-8", newline="") as out:
            write_rejected(out, outcome.rejected)
        command.stdout.write(f"Rejected rows (line, column, reason): {target}")
        for item in outcome.rejected[:5]:
            command.stdout.write(f"  line {item.line}, {item.column or 'row'}: {item.reason}")
    if outcome.interrupted_at is not None:
        raise CommandError(
            f"Stopped at line {outcome.interrupted_at}, before it was written; rows after it may not"
            " be written either. Run the same command again: rows already imported are skipped.",
            returncode=130,
        )
    if outcome.rejected:
        raise CommandError(f"{len(outcome.rejected)} row problem(s); see above.", returncode=1)
