"""The landing zone: find deliveries and verify them against their manifest before any row moves.

Read through fsspec, so the same code reads a local folder (tests, the demo) and an object store
URL such as s3://bucket/landing in production (with the matching fsspec driver installed).
"""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date

import fsspec

from equity.contracts import CONTRACTS, MANIFEST_NAME, SCHEMA_VERSION, SourceContract

BLOCK = 1 << 20  # 1 MiB reads: large blocks keep Python out of the per-row path


class DeliveryRefused(Exception):
    """A delivery that breaks its contract: refused whole, nothing from it is loaded."""

    def __init__(self, source: str, extract_date: date, file: str | None, rule: str, detail: str):
        self.source, self.extract_date, self.file, self.rule, self.detail = (
            source, extract_date, file, rule, detail,
        )
        where = f"{source} {extract_date}" + (f" file {file}" if file else "")
        super().__init__(f"delivery refused: {where}: [{rule}] {detail}")


@dataclass(frozen=True)
class DeliveryFile:
    name: str
    encoding: str | None
    sha256: str
    rows: int


@dataclass
class Delivery:
    source: str
    extract_date: date
    mode: str
    revision: int
    files: list[DeliveryFile]
    folder: str
    manifest: dict = field(repr=False)

    @property
    def contract(self) -> SourceContract:
        return CONTRACTS[self.source]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


class LandingZone:
    def __init__(self, root: str):
        self.fs, self.root = fsspec.core.url_to_fs(root)
        self.root = self.root.rstrip("/")

    def folder(self, source: str, extract_date: date) -> str:
        return f"{self.root}/{source}/{extract_date.isoformat()}"

    def open(self, path: str):
        return self.fs.open(path, "rb")

    def has_manifest(self, source: str, extract_date: date) -> bool:
        return self.fs.exists(f"{self.folder(source, extract_date)}/{MANIFEST_NAME}")

    def dates(self, source: str) -> list[date]:
        """Dates with a complete delivery (manifest present) for a source."""
        base = f"{self.root}/{source}"
        if not self.fs.exists(base):
            return []
        out = []
        for entry in self.fs.ls(base, detail=False):
            name = entry.rstrip("/").rsplit("/", 1)[-1]
            try:
                d = date.fromisoformat(name)
            except ValueError:
                continue
            if self.has_manifest(source, d):
                out.append(d)
        return sorted(out)

    def read_manifest(self, source: str, extract_date: date) -> Delivery:
        folder = self.folder(source, extract_date)
        path = f"{folder}/{MANIFEST_NAME}"

        def refuse(rule: str, detail: str) -> DeliveryRefused:
            return DeliveryRefused(source, extract_date, MANIFEST_NAME, rule, detail)

        if not self.fs.exists(path):
            raise refuse("manifest_missing", f"no {MANIFEST_NAME} in {folder}: delivery incomplete")
        try:
            with self.open(path) as fh:
                m = json.loads(fh.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise refuse("manifest_malformed", f"not valid UTF-8 JSON: {exc}") from None
        contract = CONTRACTS[source]
        required = ("source", "extract_date", "schema_version", "mode", "revision", "files")
        missing = [k for k in required if k not in m]
        if missing:
            raise refuse("manifest_malformed", f"missing keys {missing}")
        if m["source"] != source or m["extract_date"] != extract_date.isoformat():
            raise refuse("manifest_mismatch",
                         f"manifest says {m['source']} {m['extract_date']}, folder is {source} {extract_date}")
        if m["schema_version"] != SCHEMA_VERSION:
            raise refuse("schema_version", f"schema_version {m['schema_version']!r}, expected {SCHEMA_VERSION}")
        if m["mode"] not in contract.modes:
            raise refuse("mode", f"mode {m['mode']!r} not allowed for {source} (allowed {contract.modes})")
        if not isinstance(m["revision"], int) or m["revision"] < 1:
            raise refuse("manifest_malformed", f"revision {m['revision']!r} is not a positive integer")
        files = []
        for entry in m["files"]:
            try:
                f = DeliveryFile(entry["name"], entry.get("encoding"), entry["sha256"], int(entry["rows"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise refuse("manifest_malformed", f"bad file entry {entry!r}: {exc}") from None
            if not contract.file_pattern.match(f.name):
                raise refuse("file_name", f"file name {f.name!r} does not follow the contract")
            files.append(f)
        if not files:
            raise refuse("manifest_malformed", "no files listed")
        return Delivery(source, extract_date, m["mode"], m["revision"], files, folder, m)

    def verify(self, delivery: Delivery) -> None:
        """Checksums, declared encoding and header of every file; raises DeliveryRefused.

        Row counts are reconciled by the loader from COPY's own count, in the load transaction.
        The loader does the same checks on the blocks it streams into COPY (one read of each file,
        see FileCheck) and calls this only to name the refusal when something failed.
        """
        for f in delivery.files:
            self.check_file(delivery, f)

    def existing_path(self, delivery: Delivery, f: DeliveryFile) -> str:
        """The file's path; refused as `file_missing` when the manifest lists a file not delivered."""
        path = f"{delivery.folder}/{f.name}"
        if not self.fs.exists(path):
            raise DeliveryRefused(delivery.source, delivery.extract_date, f.name, "file_missing",
                                  "listed in the manifest but not delivered")
        return path

    def check_file(self, delivery: Delivery, f: DeliveryFile) -> None:
        """Checksum, declared encoding and header of one whole file, in a read of its own."""
        path = self.existing_path(delivery, f)
        check = FileCheck(delivery, f)
        with self.open(path) as fh:
            while block := fh.read(BLOCK):
                check.update(block)
        check.finish()
        check.header(self, path)


class FileCheck:
    """sha256, declared encoding and header of one delivery file, fed block by block.

    The same object serves `LandingZone.verify` (a read of its own) and the loader, which feeds it
    the very blocks it sends to COPY, so each file is read once.
    """

    def __init__(self, delivery: Delivery, f: DeliveryFile, decode: bool = True):
        """decode=False: the caller decodes the bytes itself and, when they do not decode, asks
        `LandingZone.verify` to name the refusal (the loader: Arrow's reader decodes every byte)."""
        self.delivery, self.f = delivery, f
        self.digest = hashlib.sha256()
        self.decoder = codecs.getincrementaldecoder(_codec(f.encoding))() if f.encoding and decode else None
        self.first_line = b""
        self.offset = 0

    def refuse(self, rule: str, detail: str) -> DeliveryRefused:
        return DeliveryRefused(self.delivery.source, self.delivery.extract_date, self.f.name, rule, detail)

    def update(self, block: bytes) -> None:
        self.digest.update(block)
        if len(self.first_line) < 65536 and b"\n" not in self.first_line:
            self.first_line += block[:65536]
        if self.decoder:
            try:
                self.decoder.decode(block)
            except UnicodeDecodeError as exc:
                at = self.offset + exc.start
                raise self.refuse("encoding", f"not valid {self.f.encoding} at byte {at}") from None
        self.offset += len(block)

    def finish(self) -> None:
        """After the last block: a truncated character, then the checksum."""
        if self.decoder:
            try:
                self.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise self.refuse("encoding", f"not valid {self.f.encoding}: truncated character at end") from None
        if self.digest.hexdigest() != self.f.sha256.lower():
            raise self.refuse("sha256", "file bytes do not match the manifest's sha256 (corrupt or truncated transfer)")

    def header(self, zone: LandingZone, path: str) -> None:
        """The header against the contract (text files: from the first block seen)."""
        contract = self.delivery.contract
        expected = contract.columns
        if contract.file_format == "parquet":
            header = tuple(_parquet_columns(zone, path))
        else:
            sep = "|" if contract.file_format == "pipe" else ","
            line = self.first_line.split(b"\n", 1)[0].rstrip(b"\r").decode(_codec(self.f.encoding or "utf-8"),
                                                                           errors="replace")
            header = tuple(c.strip().strip('"') for c in line.lstrip("\ufeff").split(sep))
        if header != expected:
            raise self.refuse("header", describe_header_drift(expected, header))


def _codec(encoding: str) -> str:
    return {"windows-874": "cp874", "tis-620": "cp874", "utf-8": "utf-8"}.get(encoding.lower(), encoding)


def _parquet_columns(zone: LandingZone, path: str) -> list[str]:
    import pyarrow.parquet as pq

    with zone.open(path) as fh:
        return pq.ParquetFile(fh).schema_arrow.names


def describe_header_drift(expected: tuple[str, ...], got: tuple[str, ...]) -> str:
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if extra:
        parts.append(f"unexpected {extra}")
    if not parts:
        parts.append("columns in the wrong order")
    return "header differs from the contract: " + ", ".join(parts) + f"; expected {list(expected)}"
