"""Read an untrusted .xlsx into plain grids of cell values, with work bounded by the cells that hold one.

An input workbook may come from anywhere, so nothing here trusts the file:

* only a regular file is opened (never a FIFO, a device or a socket, which could block or never end),
  and every read is capped while reading, not by the size the file system reports;
* the zip is checked for bombs (too many parts, too much content, absurd compression ratios) and every
  part is decompressed with a cap;
* XML with a DTD or entity declarations is refused, and every XML parse goes through defusedxml;
* a worksheet's cells are found by a byte scan for the tags that carry a value (``<v>``, ``<f>``,
  ``<is>``), so formatting dragged to XFD1048576 or a million blank rows costs one pass over the bytes,
  and only cells with a value are parsed; ranges (merged cells, table refs) are never expanded;
* a cell that cannot be decoded becomes a :class:`DamagedCell` at its own address, and a part that
  cannot be parsed is reported as a damaged file, never as a traceback.

openpyxl supplies the small pieces of spreadsheet knowledge (shared-string text, date formats, Excel
serial dates); it never builds a workbook from the untrusted file.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH

from planner.errors import InputError, InputIssue
from planner.xlsx_cells import (
    CELL_TAG,
    MAIN_NS,
    ROW_TAG,
    CellDecoder,
    DamagedCell,
    SheetGrid,
    TablePart,
    merged_ranges,
    plain_text,
    short_error,
    value_cells,
)

__all__ = ["FILE", "DamagedCell", "SheetGrid", "TablePart", "fail", "read_file", "read_workbook"]

MAX_FILE_BYTES = 50 * 1024**2
"""Largest input file read; counted while reading (a device reports size 0 and never ends)."""
MAX_UNCOMPRESSED_BYTES = 200 * 1024**2
"""Most content, all zip parts together, decompressed."""
MAX_ARCHIVE_MEMBERS = 10_000
MAX_COMPRESSION_RATIO = 100
"""A part expanding more than this many times (and past ``RATIO_CHECK_MIN_BYTES``) is a zip bomb."""
RATIO_CHECK_MIN_BYTES = 1024**2
MAX_CELLS = 500_000
"""Most cells holding a value (or a formula), all sheets together: an input is a few thousand."""
MAX_SHARED_STRINGS = MAX_CELLS
MAX_MERGED_RANGES = 10_000
MAX_STRUCTURE_PART_BYTES = 20 * 1024**2
"""Largest workbook, relationship, style or table part parsed whole."""

FILE = "file"
_READ_CHUNK_BYTES = 1024**2
_NOT_XLSX = "an .xlsx workbook (not a renamed CSV or .xls, a password-protected or a damaged file)"
_DAMAGED = "a workbook saved by Excel or LibreOffice as .xlsx"
_ROOT_TAG = re.compile(rb"<(\w+:)?worksheet[\s>]")
_UNSAFE_XML = (b"<!DOCTYPE", b"<!ENTITY")
_STRICT_NS = b"http://purl.oclc.org/ooxml/spreadsheetml/main"


def fail(path: Path, found: str, expected: str) -> InputError:
    """A file-level problem (sheet ``file``, column ``path``)."""
    return InputError([InputIssue(FILE, "path", found, expected)], source=path.name)


Inspect = Callable[[Mapping[str, str], list[str]], None]
"""Looks at a workbook before its cells are read: its document properties (keywords, title, creator,
...) and sheet names; raises :class:`InputError` to refuse it."""


def read_workbook(path: Path, inspect: Inspect | None = None) -> list[SheetGrid]:
    """Every worksheet of the workbook at ``path``, in workbook order; :class:`InputError` if unsafe,
    unreadable or damaged, or if ``inspect`` refuses it (called before any sheet is parsed)."""
    data = read_file(path)
    with _open_archive(path, data) as archive:
        return _Package(path, archive).sheets(inspect)


# ---- the file -----------------------------------------------------------------------------------

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_file(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file, at most ``limit`` (default :data:`MAX_FILE_BYTES`), counted as read."""
    limit = MAX_FILE_BYTES if limit is None else limit
    too_big = f"at most {limit / 1024**2:.0f} MB"
    try:
        info = os.stat(path)  # follows symlinks: a link to /dev/zero is a device
        if stat.S_ISDIR(info.st_mode):
            raise fail(path, f"a folder at {path}", "an .xlsx workbook file")
        if not stat.S_ISREG(info.st_mode):
            raise fail(path, f"{_kind(info.st_mode)} at {path}",
                       "a regular .xlsx file (refused: reading it may never end)")
        if info.st_size > limit:
            raise fail(path, f"a file of {info.st_size / 1024**2:.0f} MB", too_big)
        # O_NONBLOCK: if the path is swapped for a FIFO after the check, opening it must not wait.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)
        handle = os.open(path, flags)
        try:
            mode = os.fstat(handle).st_mode
            if not stat.S_ISREG(mode):
                raise fail(path, f"{_kind(mode)} at {path}", "a regular .xlsx file")
            data = _capped_read(lambda size: os.read(handle, size), limit)
            if data is None:
                raise fail(path, f"a file of more than {limit / 1024**2:.0f} MB", too_big)
            return bytes(data)
        finally:
            os.close(handle)
    except FileNotFoundError:
        raise fail(path, f"no file at {path}", "an existing .xlsx workbook") from None
    except BlockingIOError:
        raise fail(path, f"a file at {path} that is not ready to read", "a regular .xlsx file") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
        reason = getattr(error, "strerror", None) or str(error)
        raise fail(path, f"a file that cannot be read ({reason})", "a readable file") from None


def _capped_read(read: Callable[[int], bytes], limit: int) -> bytearray | None:
    """Everything ``read`` gives, in chunks, or None as soon as it passes ``limit`` bytes. One growing
    buffer: a part is held once, not once per chunk and again joined."""
    data = bytearray()
    while chunk := read(min(_READ_CHUNK_BYTES, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            return None
    return data


# ---- the archive --------------------------------------------------------------------------------


def _open_archive(path: Path, data: bytes) -> zipfile.ZipFile:
    """The zip, after the checks that need no decompression (parts, declared sizes, ratios)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise fail(path, "a file that is not a valid .xlsx (zip) archive", _NOT_XLSX) from None
    members = archive.infolist()
    if "[Content_Types].xml" not in archive.namelist():
        raise fail(path, "a zip file that is not an Excel workbook", _NOT_XLSX)
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise fail(path, f"an archive of {len(members)} parts", f"at most {MAX_ARCHIVE_MEMBERS}")
    total = sum(member.file_size for member in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise fail(path, f"{total / 1024**2:.0f} MB of uncompressed content",
                   f"at most {MAX_UNCOMPRESSED_BYTES // 1024**2} MB (refused as unsafe)")
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise fail(path, f"part {member.filename} compressed {ratio:.0f} to 1 (a zip bomb?)",
                       f"a compression ratio of at most {MAX_COMPRESSION_RATIO} (refused as unsafe)")
    return archive


class _Package:
    """The parts of one xlsx package, read on demand with caps, and the sheets built from them."""

    def __init__(self, path: Path, archive: zipfile.ZipFile) -> None:
        self.path = path
        self.archive = archive
        self.names = set(archive.namelist())
        self.budget = MAX_UNCOMPRESSED_BYTES
        self.cells_left = MAX_CELLS

    def damaged(self, what: str) -> InputError:
        return fail(self.path, f"a damaged file ({what})", _DAMAGED)

    def read(self, name: str, limit: int | None = None) -> bytearray:
        """A part's bytes, decompressed with a cap; refuses XML that declares a DTD or entities."""
        limit = min(self.budget, limit if limit is not None else self.budget)
        try:
            with self.archive.open(name) as stream:
                data = _capped_read(stream.read, limit)
        except KeyError:
            raise self.damaged(f"part {name} is missing") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as error:
            raise self.damaged(f"part {name}: {short_error(error)}") from None
        except (OSError, RuntimeError) as error:  # encrypted or unreadable members
            raise fail(self.path, f"an archive that cannot be read ({short_error(error)})", _NOT_XLSX) from None
        if data is None:
            raise fail(self.path, f"part {name} larger than {limit / 1024**2:.0f} MB uncompressed",
                       "a smaller workbook (refused as unsafe)")
        self.budget -= len(data)
        if any(marker in data for marker in _UNSAFE_XML):
            raise fail(self.path, "XML entity or DTD declarations", "a workbook without them (refused as unsafe)")
        return data

    def elements(self, name: str, data: bytes | bytearray | None = None, label: str | None = None) -> Iterator[Element]:
        """Each element of a part as its end tag is parsed (children complete), safely."""
        source = io.BytesIO(self.read(name, MAX_STRUCTURE_PART_BYTES) if data is None else data)
        try:
            for _, element in iterparse(source, forbid_dtd=True):
                yield element
        except DefusedXmlException:
            raise fail(self.path, "XML entity or DTD declarations",
                       "a workbook without them (refused as unsafe)") from None
        except (ParseError, ValueError) as error:
            raise self.damaged(f"{label or 'part ' + name}: {short_error(error)}") from None

    def relationships(self, part: str) -> list[tuple[str, str, str]]:
        """(id, type, target part) of a part's relationships; [] when it has none."""
        folder, base = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", base + ".rels")
        if rels not in self.names:
            return []
        found = []
        for element in self.elements(rels):
            if _local(element.tag) != "Relationship" or element.get("TargetMode") == "External":
                continue
            target = element.get("Target", "")
            resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join(folder, target))
            found.append((element.get("Id", ""), element.get("Type", ""), resolved))
        return found

    # ---- workbook structure ---------------------------------------------------------------------

    def properties(self) -> dict[str, str]:
        """The core document properties (title, creator, keywords, ...) by local name; {} without."""
        part = next((target for _, kind, target in self.relationships("") if kind.endswith("/core-properties")),
                    None)
        if part is None or part not in self.names:
            return {}
        found: dict[str, str] = {}
        for element in self.elements(part):
            if len(element) == 0 and element.text:
                found[_local(element.tag)] = element.text.strip()
        return found

    def sheets(self, inspect: Inspect | None = None) -> list[SheetGrid]:
        workbook_part = next((target for _, kind, target in self.relationships("")
                              if kind.endswith("/officeDocument")), "xl/workbook.xml")
        if workbook_part not in self.names:
            raise self.damaged("no workbook part")
        if _STRICT_NS in self.read(workbook_part, MAX_STRUCTURE_PART_BYTES):
            raise fail(self.path, "a workbook saved as Strict Open XML",
                       "a workbook saved as 'Excel Workbook (.xlsx)', the usual format")
        titles: list[tuple[str, str]] = []
        epoch = WINDOWS_EPOCH
        for element in self.elements(workbook_part):
            if _local(element.tag) == "sheet":
                rel = next((value for key, value in element.attrib.items() if _local(key) == "id"), "")
                titles.append((element.get("name", ""), rel))
            elif _local(element.tag) == "workbookPr" and element.get("date1904", "").lower() in ("1", "true"):
                epoch = MAC_EPOCH
        if inspect is not None:
            inspect(self.properties(), [title for title, _ in titles])
        rels = self.relationships(workbook_part)
        by_id = {rel_id: (kind, target) for rel_id, kind, target in rels}
        strings_part = next((t for _, kind, t in rels if kind.endswith("/sharedStrings")), None)
        styles_part = next((t for _, kind, t in rels if kind.endswith("/styles")), None)
        decoder = CellDecoder(self._shared_strings(strings_part), *self._date_styles(styles_part), epoch)
        grids = []
        for title, rel_id in titles:
            if rel_id not in by_id:
                raise self.damaged(f"sheet {title!r} has no part")
            kind, part = by_id[rel_id]
            if kind.endswith("/worksheet"):  # a chart sheet or a dialog sheet holds no table
                grids.append(self._sheet(title, part, decoder))
        return grids

    def _shared_strings(self, part: str | None) -> list[str]:
        if part is None or part not in self.names:
            return []
        data = self.read(part)
        if data.count(b"<si") > MAX_SHARED_STRINGS:
            raise fail(self.path, f"more than {MAX_SHARED_STRINGS:,} shared strings",
                       "a smaller workbook (refused as unsafe)")
        strings = []
        for element in self.elements(part, data):
            if element.tag == f"{{{MAIN_NS}}}si":
                strings.append(plain_text(element).replace("x005F_", ""))
                element.clear()
        return strings

    def _date_styles(self, part: str | None) -> tuple[frozenset[int], frozenset[int]]:
        """Indices of the cell styles that show dates, and of those that show durations."""
        if part is None or part not in self.names:
            return frozenset(), frozenset()
        custom: dict[int, str] = {}
        style_formats: list[int] = []
        in_cell_xfs = False
        source = io.BytesIO(self.read(part, MAX_STRUCTURE_PART_BYTES))
        try:
            for event, element in iterparse(source, events=("start", "end"), forbid_dtd=True):
                tag = _local(element.tag)
                if tag == "cellXfs":
                    in_cell_xfs = event == "start"
                elif event == "start" and tag == "xf" and in_cell_xfs:
                    style_formats.append(int(element.get("numFmtId", 0)))
                elif event == "end" and tag == "numFmt":
                    custom[int(element.get("numFmtId", -1))] = element.get("formatCode", "")
        except (ParseError, ValueError, DefusedXmlException) as error:
            raise self.damaged(f"part {part}: {short_error(error)}") from None
        formats = [custom.get(number, BUILTIN_FORMATS.get(number)) for number in style_formats]
        dates = frozenset(i for i, fmt in enumerate(formats) if is_date_format(fmt))
        durations = frozenset(i for i, fmt in enumerate(formats) if fmt and is_timedelta_format(fmt))
        return dates, durations

    def _tables(self, part: str) -> list[TablePart]:
        tables = []
        for _, kind, target in self.relationships(part):
            if not kind.endswith("/table") or target not in self.names:
                continue
            for element in self.elements(target):
                if _local(element.tag) == "table":
                    tables.append(TablePart(
                        name=element.get("name", ""), display_name=element.get("displayName", ""),
                        ref=element.get("ref", ""), totals_rows=_int(element.get("totalsRowCount"), 0),
                    ))
        return tables

    # ---- one worksheet --------------------------------------------------------------------------

    def _sheet(self, title: str, part: str, decoder: CellDecoder) -> SheetGrid:
        data = self.read(part)
        grid = SheetGrid(title, tables=self._tables(part))
        root = _ROOT_TAG.search(data)
        if root is None:
            raise self.damaged(f"sheet {title!r} has no worksheet element")
        prefix = root.group(1) or b""
        grid.merged = merged_ranges(data, prefix)
        if len(grid.merged) > MAX_MERGED_RANGES:
            raise fail(self.path, f"{len(grid.merged):,} merged ranges on sheet {title!r}",
                       f"at most {MAX_MERGED_RANGES:,} (refused as unsafe)")
        spans = value_cells(data, prefix)
        self._spend_cells(len(spans))
        if not spans:
            return grid
        # The cells, wrapped in the sheet's own root tag so that namespace prefixes still resolve;
        # joined from views of the part, so the part is copied once, not once per cell and again.
        view = memoryview(data)
        head = view[root.start():data.index(b">", root.start()) + 1]
        document = b"".join([head, *(view[a:b] for a, b in spans), b"</", prefix, b"worksheet>"])
        del view
        for row, column, value, is_formula in self._cells(title, part, document, decoder):
            if row is None:
                # A cell without an address sits after the one before it: blank cells count, so the
                # whole sheet must be read in order (rare; written by a few non-Excel tools).
                self.cells_left += len(spans)
                grid.cells.clear()
                grid.formulas.clear()
                return self._sheet_in_order(grid, part, data, prefix, decoder)
            grid.add(row, column, value, is_formula)
        return grid

    def _cells(self, title: str, part: str, document: bytes,
               decoder: CellDecoder) -> Iterator[tuple[int | None, int, Any, bool]]:
        for element in self.elements(part, document, label=f"sheet {title!r}"):
            if element.tag == CELL_TAG:
                address = element.get("r")
                if not address:
                    yield None, 0, None, False
                    return
                yield (*self._address(title, address), *decoder.decode(element))
                element.clear()

    def _sheet_in_order(self, grid: SheetGrid, part: str, data: bytes | bytearray, prefix: bytes,
                        decoder: CellDecoder) -> SheetGrid:
        self._spend_cells(data.count(b"<" + prefix + b"c"))  # an upper bound: every cell, blank or not
        row = column = 0
        source = io.BytesIO(data)
        try:
            for event, element in iterparse(source, events=("start", "end"), forbid_dtd=True):
                if event == "start" and element.tag == ROW_TAG:
                    row, column = _int(element.get("r"), row + 1), 0
                elif event == "end" and element.tag == CELL_TAG:
                    address = element.get("r")
                    row, column = self._address(grid.title, address) if address else (row, column + 1)
                    value, is_formula = decoder.decode(element)
                    if value is not None or is_formula:
                        grid.add(row, column, value, is_formula)
                    element.clear()
        except (ParseError, ValueError, DefusedXmlException) as error:
            raise self.damaged(f"sheet {grid.title!r}: {short_error(error)}") from None
        return grid

    def _address(self, title: str, address: str) -> tuple[int, int]:
        try:
            return coordinate_to_tuple(address)
        except (ValueError, TypeError):
            raise self.damaged(f"sheet {title!r} has a cell with the address {address[:20]!r}") from None

    def _spend_cells(self, count: int) -> None:
        self.cells_left -= count
        if self.cells_left < 0:
            raise fail(self.path, f"more than {MAX_CELLS:,} cells holding values",
                       f"at most {MAX_CELLS:,} (refused as unsafe: an input workbook holds a few thousand)")


# ---- helpers ------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
