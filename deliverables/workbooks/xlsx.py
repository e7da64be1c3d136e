"""Writing an .xlsx that is the same bytes every time and never holds a formula, on openpyxl's write-only mode.

Plain module (no Django). What openpyxl does not give, and how it is done here:

- Fixed bytes. openpyxl stamps every zip entry with the wall clock and the core properties with "now"; here the
  archive is a FixedZip (every entry dated from the run, same order, same compression, same attributes) and
  the properties are set by the caller before the package is written (ExcelWriter, not save_workbook, which
  would overwrite `modified`).
- Text, never a formula. openpyxl turns a str that begins with "=" into a formula. Every text goes through
  Sheet.text: a value that begins with =, +, -, @, a tab or a carriage return is a Cell forced to the string
  type with the quotePrefix style (Excel then keeps it text even when someone edits the cell).
- Exact text. XML readers turn a literal carriage return into a line feed and openpyxl refuses other control
  characters; Excel's own escape for both (ST_Xstring, `_xHHHH_`) is written instead, and a literal `_xHHHH_`
  in the data is escaped as `_x005F_xHHHH_`, so Excel shows exactly the data (xstring_decode reads it back).
  Each sheet counts the cells whose text held such a character, by column (Sheet.escaped): the build reports
  them (the data changed form in the file, though it reads back exactly).
- Links on a million rows. openpyxl keeps every hyperlink and its relationship as objects until the sheet is
  closed (about a kilobyte each). Here each sheet's links stream to two temporary files as rows are appended
  (the <hyperlink> refs, and the relationships part); the sheet's <hyperlinks> and its .rels are copied from
  them when the package is written.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import zipfile
from decimal import Decimal
from xml.sax.saxutils import quoteattr

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.packaging.relationship import get_rels_path
from openpyxl.styles import Alignment, Font
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

MONEY_FORMAT = '"$"#,##0.00;-"$"#,##0.00'
RATE_FORMAT = "0.00%"
COUNT_FORMAT = "#,##0"
DATE_FORMAT = "yyyy-mm-dd"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Excel holds 15 significant digits: more would not be the exact amount.
EXCEL_DIGITS = 15

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
HYPERLINK_TYPE = f"{REL_NS}/hyperlink"
PACKAGE_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

# ST_Xstring: control characters XML cannot carry as they are (a CR becomes LF on read), and a literal escape.
_NEEDS_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
# The characters of the above written as an escape (the ones a build reports; a tab or a line feed is written as is).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")


class WorkbookError(ValueError):
    """A value the workbook cannot hold as it is; the message names the sheet, the row and the field."""


def xstring(text: str) -> str:
    """`text` as Excel's ST_Xstring: control characters (a carriage return included) as `_xHHHH_`, a literal
    `_xHHHH_` as `_x005F_xHHHH_`; anything else unchanged."""
    if not _NEEDS_ESCAPE.search(text):
        return text

    def escape(match: re.Match) -> str:
        found = match.group(0)
        if len(found) == 1:
            return f"_x{ord(found):04X}_"
        return f"_x005F{found}"

    return _NEEDS_ESCAPE.sub(escape, text)


def xstring_decode(text: str) -> str:
    """What Excel shows for an ST_Xstring (the inverse of xstring)."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def excel_datetime(moment: dt.datetime) -> dt.datetime:
    """A moment as the naive UTC datetime Excel and the core properties take."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


# --- the archive ---------------------------------------------------------------------------------------------
class FixedZip(zipfile.ZipFile):
    """A zip archive whose entries all carry one date, fixed attributes and deflate: the same parts written in
    the same order are the same bytes, whenever and wherever they are written."""

    def __init__(self, file, *, stamp: dt.datetime):
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        stamp = max(excel_datetime(stamp), dt.datetime(1980, 1, 1))  # the zip format starts in 1980
        self._stamp = (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)

    def _info(self, name: str, size: int = 0) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o644 << 16
        info.file_size = size
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        name = zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo) else zinfo_or_arcname
        if isinstance(data, str):
            data = data.encode("utf-8")
        super().writestr(self._info(name, len(data)), data)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        """A file's bytes streamed in (a worksheet of a million rows is never read whole)."""
        info = self._info(arcname or os.path.basename(filename), os.path.getsize(filename))
        with open(filename, "rb") as source, self.open(info, "w") as target:
            shutil.copyfileobj(source, target, 1 << 20)


# --- links ---------------------------------------------------------------------------------------------------
class LinkingWriter(WorksheetWriter):
    """openpyxl's worksheet writer, with the sheet's hyperlinks streamed through temporary files: `link(ref,
    url)` records one (a cell or a range of one row), and the <hyperlinks> element and the sheet's relationships
    part are written from the files, never held."""

    def __init__(self, ws, folder: str):
        # The sheet's XML goes to a file in the build's folder (removed with it, even when the build fails).
        handle, out = tempfile.mkstemp(dir=folder, suffix=".xml")
        os.close(handle)
        super().__init__(ws, out=out)
        self.links = 0
        # Closed by discard() once the package is written (not a with-block: they outlive this call).
        self._refs = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8", dir=folder, suffix=".refs", delete=False)
        self._rels_file = tempfile.NamedTemporaryFile(  # noqa: SIM115
            "w+", encoding="utf-8", dir=folder, suffix=".rels", delete=False)
        self._rels_file.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                              f'<Relationships xmlns="{PACKAGE_RELS_NS}">')

    def link(self, ref: str, url: str) -> None:
        self.links += 1
        self._refs.write(ref + "\n")
        self._rels_file.write(f'<Relationship Id="rId{self.links}" Type="{HYPERLINK_TYPE}" '
                              f'Target={quoteattr(xstring(url))} TargetMode="External"/>')

    def write_hyperlinks(self):
        if not self.links:
            return
        self._refs.flush()
        self._refs.seek(0)
        xf = self.xf.send(True)
        raw = getattr(xf, "_file", None)  # et_xmlfile's writer: raw text between elements
        with xf.element("hyperlinks", nsmap={"r": REL_NS}):
            for number, line in enumerate(self._refs, 1):
                ref = line.rstrip("\n")
                if raw is not None:
                    raw(f'<hyperlink ref="{ref}" r:id="rId{number}"/>')
                else:  # lxml's xmlfile (openpyxl uses it when lxml is installed)
                    from openpyxl.xml.functions import Element

                    xf.write(Element("hyperlink", {"ref": ref, f"{{{REL_NS}}}id": f"rId{number}"}))
        self.xf.send(None)

    def cleanup(self):
        try:
            os.unlink(self.out)
        except FileNotFoundError:
            pass

    def rels_path(self) -> str | None:
        """The finished relationships part (a file), or None when the sheet has no link."""
        if not self.links:
            return None
        self._rels_file.write("</Relationships>")
        self._rels_file.flush()
        return self._rels_file.name

    def discard(self) -> None:
        for handle in (self._refs, self._rels_file):
            handle.close()
            try:
                os.unlink(handle.name)
            except FileNotFoundError:
                pass


# --- styles --------------------------------------------------------------------------------------------------
class Styles:
    """The few cell styles of the workbook, each a StyleArray made once and shared by every cell that has it (a
    write-only cell is written as soon as its row is appended: sharing is safe and saves a style lookup a cell)."""

    def __init__(self, book: Workbook):
        self.book = book
        self.money = self._make(number_format=MONEY_FORMAT)
        self.money_link = self._make(number_format=MONEY_FORMAT, font=_LINK_FONT)
        self.rate = self._make(number_format=RATE_FORMAT)
        self.rate_link = self._make(number_format=RATE_FORMAT, font=_LINK_FONT)
        self.count = self._make(number_format=COUNT_FORMAT)
        self.count_link = self._make(number_format=COUNT_FORMAT, font=_LINK_FONT)
        self.date = self._make(number_format=DATE_FORMAT)
        self.quoted = self._make(quote_prefix=True)
        self.header = self._make(font=Font(bold=True))
        self.title = self._make(font=Font(bold=True, size=14))
        self.wrapped = self._make(alignment=Alignment(wrap_text=True, vertical="top"))
        self.missing = self._make(font=Font(italic=True, color="9C0006"))
        self.missing_quoted = self._make(font=Font(italic=True, color="9C0006"), quote_prefix=True)

    def _make(self, *, number_format=None, font=None, alignment=None, quote_prefix=False) -> StyleArray:
        cell = Cell(_StyleHost(self.book))
        if number_format:
            cell.number_format = number_format
        if font is not None:
            cell.font = font
        if alignment is not None:
            cell.alignment = alignment
        if quote_prefix:
            cell.quotePrefix = True
        return StyleArray(cell._style)


_LINK_FONT = Font(color="0563C1", underline="single")


class _StyleHost:
    """What a Cell needs of its worksheet to register a style: the workbook (`parent`)."""

    def __init__(self, book: Workbook):
        self.parent = book


# --- sheets --------------------------------------------------------------------------------------------------
class Sheet:
    """One write-only worksheet: typed cells (text never a formula, money, rates, counts, dates), rows appended
    in order, links recorded by row."""

    def __init__(self, book: Workbook, styles: Styles, title: str, widths: list[float], folder: str, *,
                 freeze: str | None = None):
        self.ws = book.create_sheet(title)
        self.title = title
        self.styles = styles
        for index, width in enumerate(widths, 1):
            self.ws.column_dimensions[get_column_letter(index)].width = width
        if freeze:
            self.ws.freeze_panes = freeze  # before the sheet's top is written
        self.writer = LinkingWriter(self.ws, folder)
        self.ws._writer = self.writer  # the write-only sheet writes through ours (it makes one only when none)
        self.writer.write_top()
        # Rows go straight to the writer as finished cells (the sheet's own row generator would try each value
        # as a cell value first, and format an error for every styled cell); closing the sheet closes ours.
        self.ws._rows = self._write_rows()
        next(self.ws._rows)
        self._scratch = Cell(self.ws)  # plain text: one cell reused, as openpyxl's write-only rows do
        self._scratch.data_type = "s"
        self.rows = 0
        self.field = ""  # the field being written, for error messages
        self.columns: tuple[str, ...] = ()  # the headings of the table being written (each row's column names)
        self.escaped: dict[str, int] = {}  # column name -> cells whose control characters were escaped
        self._escaped_cells: list = []  # such cells made for the row being built (found by identity in append)

    # cells
    def text(self, value, style: StyleArray | None = None):
        """A text cell: never a formula, exactly the data."""
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        if not text:
            return None
        written = xstring(text)
        if written is not text and _CONTROL.search(text):
            return self._escaped(self._text_cell(written, style))
        return self._text_cell(written, style)

    def _text_cell(self, text: str, style: StyleArray | None):
        if text.startswith(FORMULA_PREFIXES) or text.startswith("_x000D_"):
            cell = Cell(self.ws)
            cell._value = text  # set directly: the value setter would make "=..." a formula
            cell.data_type = "s"
            cell._style = StyleArray(self.styles.missing_quoted if style is self.styles.missing
                                     else self.styles.quoted)
            return cell
        if style is not None:
            return Cell(self.ws, value=text, style_array=style)
        return text

    def _escaped(self, cell):
        self._escaped_cells.append(cell)
        return cell

    def money(self, value: Decimal | None, *, link: bool = False):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        if not value.is_finite() or len(value.as_tuple().digits) > EXCEL_DIGITS:
            raise WorkbookError(f"sheet {self.title!r}, row {self.rows + 1}, {self.field or 'amount'}: {value} "
                                f"has more than {EXCEL_DIGITS} significant digits, which Excel cannot hold exactly")
        return Cell(self.ws, value=value, style_array=self.styles.money_link if link else self.styles.money)

    def rate(self, value: Decimal | None, *, link: bool = False):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        return Cell(self.ws, value=value, style_array=self.styles.rate_link if link else self.styles.rate)

    def count(self, value: int | None, *, link: bool = False):
        if value is None:
            return None
        return Cell(self.ws, value=int(value), style_array=self.styles.count_link if link else self.styles.count)

    def date(self, value: dt.date | None):
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            value = value.date()
        return Cell(self.ws, value=value, style_array=self.styles.date)

    def styled(self, value: str, style: StyleArray):
        return self.text(value, style)

    # rows
    def append(self, cells: list, links: list[tuple[int, int, str]] = (), *, names: tuple[str, ...] = ()) -> int:
        """Append one row; `links` are (first column, last column, url), 1-based. Returns the row's number.
        `names` name this row's columns for the report of escaped cells (default: the table's headings, else
        the column's letter)."""
        self.rows += 1
        if self._escaped_cells:
            self._count_escaped(cells, names or self.columns)
        self.ws._rows.send((self.rows, cells))
        for first, last, url in links:
            ref = f"{get_column_letter(first)}{self.rows}"
            if last != first:
                ref += f":{get_column_letter(last)}{self.rows}"
            self.writer.link(ref, url)
        return self.rows

    def blank(self) -> None:
        self.append([])

    def _count_escaped(self, cells: list, names: tuple[str, ...]) -> None:
        made, self._escaped_cells = self._escaped_cells, []
        for index, cell in enumerate(cells):
            if cell is not None and any(cell is m for m in made):
                name = names[index] if index < len(names) and names[index] else f"column {get_column_letter(index + 1)}"
                self.escaped[name] = self.escaped.get(name, 0) + 1

    def abandon(self) -> None:
        """Close the sheet's streams after a failed build (its files go with the build's folder)."""
        for close in (self.ws._rows.close, self.writer.close, self.writer.discard, self.writer.cleanup):
            try:
                close()
            except Exception:  # noqa: BLE001, S110 - the build failed already; its error is the one to raise
                pass

    def _write_rows(self):
        """WriteOnlyWorksheet._write_rows for finished cells: each row written as it is sent."""
        writer = self.writer
        xf = writer.xf.send(True)
        with xf.element("sheetData"):
            try:
                while True:
                    number, cells = (yield)
                    writer.write_row(xf, self._placed(cells, number), number)
            except GeneratorExit:
                pass
        writer.xf.send(None)

    def _placed(self, cells, number: int):
        scratch = self._scratch
        for column, cell in enumerate(cells, 1):
            if cell is None:
                continue
            if type(cell) is str:  # already safe text (Sheet.text): no formula, no control character
                scratch.row, scratch.column, scratch._value = number, column, cell
                yield scratch
            else:
                cell.row, cell.column = number, column
                yield cell


def new_book() -> Workbook:
    book = Workbook(write_only=True)
    return book


def save(book: Workbook, sheets: list[Sheet], out, *, stamp: dt.datetime) -> None:
    """Write the package: parts in openpyxl's order into a FixedZip, then each sheet's streamed relationships."""
    archive = FixedZip(out, stamp=stamp)
    try:
        writer = ExcelWriter(book, archive)
        writer.write_data()
        for sheet in sheets:
            rels = sheet.writer.rels_path()
            if rels is not None:
                archive.write(rels, get_rels_path(sheet.ws.path)[1:])
    finally:
        archive.close()
        for sheet in sheets:
            sheet.writer.discard()
