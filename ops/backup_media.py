"""
The files of a backup: the private storage (sample-data uploads, the media library's originals) and the
public media (the renditions), as one tar file stored beside the database dump (`<backup>.files`),
encrypted like it, with every file listed in the manifest by size and sha256. Verification checks each
file against its entry; a restore puts back exactly the backed-up files (the safety backup keeps the
ones it replaces) and reports any restored row whose file is missing. Layout: docs/backups.md.

The files are read after the database is dumped: a file deleted in between (its row gone since) is left
out and reported, never a reason to fail the backup; a file added in between belongs to no row of the
dump and is taken anyway, harmlessly.
"""

import hashlib
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files import File
from django.core.files.storage import storages

from common import filecrypt
from common.storages import storage_walk
from content.models import Image
from uploads.models import FileUpload

from .backup_engines import BackupError, checked_plain

# Storage aliases in a backup, by their name in the tar file. "backups" itself never is.
BACKED_UP = ("private", "public_media")
SUFFIX = ".files"


def files_name(name: str) -> str:
    return name + SUFFIX


class _HashingReader:
    """What tarfile reads a file through: the bytes pass on, their sha256 is kept."""

    def __init__(self, source):
        self.source = source
        self.sha256 = hashlib.sha256()

    def read(self, size=-1):
        block = self.source.read(size)
        self.sha256.update(block)
        return block


@dataclass
class Collected:
    path: Path
    manifest: dict
    vanished: list[str] = field(default_factory=list)


def files_collect(folder: Path, secret: str) -> Collected:
    """Writes the tar file (encrypted with `secret` when set) to `folder`; its manifest entry."""
    target = folder / "files"
    entries: dict[str, dict] = {alias: {} for alias in BACKED_UP}
    vanished = []
    with open(target, "wb") as out:
        hashing = filecrypt.HashingWriter(out)
        sink = filecrypt.EncryptingWriter(hashing, secret) if secret else hashing
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for alias in BACKED_UP:
                storage = storages[alias]
                for name in sorted(storage_walk(storage)):
                    try:
                        size = storage.size(name)
                        handle = storage.open(name, "rb")
                    except FileNotFoundError:
                        vanished.append(f"{alias}/{name}")
                        continue
                    with handle:
                        info = tarfile.TarInfo(f"{alias}/{name}")
                        info.size = size
                        reader = _HashingReader(handle)
                        tar.addfile(info, reader)
                    entries[alias][name] = {"size": size, "sha256": reader.sha256.hexdigest()}
        if secret:
            sink.close()
    count = sum(len(names) for names in entries.values())
    total = sum(entry["size"] for names in entries.values() for entry in names.values())
    manifest = {
        "sha256": hashing.sha256.hexdigest(),
        "size": hashing.size,
        "count": count,
        "bytes": total,
        "entries": entries,
    }
    return Collected(target, manifest, vanished)


def _fetch_plain(name: str, manifest: dict, folder: Path, key: str) -> Path:
    """The tar file, checked against the manifest's sha256 and size and decrypted, in `folder`."""
    storage = storages["backups"]
    stored = files_name(name)
    if not storage.exists(stored):
        raise BackupError(f"the files of the backup ({stored}) are missing from storage.")
    local = folder / "files-download"
    with storage.open(stored, "rb") as source, open(local, "wb") as out:
        shutil.copyfileobj(source, out, filecrypt.CHUNK)
    expected = manifest["files"]
    plain = checked_plain(
        local,
        sha256=expected["sha256"],
        size=expected["size"],
        key=key if manifest.get("encrypted") else "",
        plain=folder / "files-plain",
        what="the backup's files archive",
    )
    if plain != local:
        local.unlink()
    return plain


def _members(tar_path: Path):
    """(alias, name, member, tar) for every file in the tar, refusing any path outside its storages."""
    with tarfile.open(tar_path, mode="r:") as tar:
        for member in tar:
            alias, _, name = member.name.partition("/")
            if not member.isfile() or alias not in BACKED_UP or not name or ".." in name.split("/"):
                raise BackupError(f"the files of the backup hold an unexpected entry: {member.name!r}")
            yield alias, name, member, tar


def files_check(name: str, manifest: dict, folder: Path, key: str) -> tuple[list[str], int, Path]:
    """
    Every file of the backup against its manifest entry: the problems found, the files checked, and the
    plain tar file in `folder` (for files_restore).
    """
    plain = _fetch_plain(name, manifest, folder, key)
    expected = {
        (alias, n): entry
        for alias, names in manifest["files"]["entries"].items()
        for n, entry in names.items()
    }
    problems, seen = [], set()
    for alias, file_name, member, tar in _members(plain):
        digest = hashlib.sha256()
        with tar.extractfile(member) as handle:
            while block := handle.read(filecrypt.CHUNK):
                digest.update(block)
        entry = expected.get((alias, file_name))
        seen.add((alias, file_name))
        if entry is None:
            problems.append(f"file {alias}/{file_name}: in the backup but not in the manifest")
        elif (entry["size"], entry["sha256"]) != (member.size, digest.hexdigest()):
            problems.append(f"file {alias}/{file_name}: its size or sha256 differs from the manifest")
    problems += [
        f"file {alias}/{n}: in the manifest but not in the backup"
        for alias, n in sorted(set(expected) - seen)
    ]
    return problems, len(seen), plain


@dataclass
class FilesRestored:
    written: int = 0
    removed: int = 0


def files_restore(manifest: dict, tar_path: Path, say, *, remove_others: bool) -> FilesRestored:
    """
    Puts back the files of a checked tar (files_check): each one written over what is there and, with
    `remove_others`, the files the backup does not hold removed from the backed-up storages (they belong
    to rows the restore took away; the caller says whether a safety backup keeps them).
    """
    result = FilesRestored()
    if remove_others:
        kept = {alias: set(names) for alias, names in manifest["files"]["entries"].items()}
        for alias in BACKED_UP:
            storage = storages[alias]
            for stale in sorted(set(storage_walk(storage)) - kept.get(alias, set())):
                storage.delete(stale)
                result.removed += 1
    for alias, file_name, member, tar in _members(tar_path):
        storage = storages[alias]
        if storage.exists(file_name):
            storage.delete(file_name)
        with tar.extractfile(member) as handle:
            saved = storage.save(file_name, File(handle, name=file_name))
        if saved != file_name:
            raise BackupError(f"the storage {alias} saved {file_name} as {saved}: restore the files by hand.")
        result.written += 1
        if result.written % 500 == 0:
            say(f"  {result.written} files written...")
    return result


def rows_without_files(limit: int = 20) -> list[str]:
    """The uploads and library images whose file is not in storage (after a restore: should be none)."""
    private, public = storages["private"], storages["public_media"]
    missing = []
    for path in FileUpload.objects.exclude(storage_path="").values_list("storage_path", flat=True).iterator():
        if not private.exists(path):
            missing.append(f"upload file {path}")
    for original, renditions in Image.objects.values_list("original", "renditions").iterator():
        if original and not private.exists(original):
            missing.append(f"image original {original}")
        missing += [f"image rendition {r['name']}" for r in renditions or [] if not public.exists(r["name"])]
    return missing[:limit] + ([f"... and {len(missing) - limit} more"] if len(missing) > limit else [])
