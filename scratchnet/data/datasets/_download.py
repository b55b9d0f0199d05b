"""Fetching and checking dataset files.

Files live under a cache directory: the `root` a dataset is given, else $SCRATCHNET_DATA,
else ~/.cache/scratchnet. A download streams into a temporary file next to its destination,
is checked against the published checksum, and only then renamed into place (atomically), so
an interrupted or corrupted download never leaves a file that looks complete.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request

from ..._atomic import atomic_write

# Looked up at call time, so that tests can serve local bytes in its place.
urlopen = urllib.request.urlopen

TIMEOUT_SECONDS = 60
_CHUNK = 1 << 20


class IntegrityError(RuntimeError):
    """A dataset file is corrupt or truncated: wrong checksum, size or header."""


def data_root(root=None) -> str:
    """The directory datasets are read from and downloaded to."""
    if root is None:
        root = os.environ.get("SCRATCHNET_DATA") or os.path.join("~", ".cache", "scratchnet")
    return os.path.abspath(os.path.expanduser(os.fspath(root)))


def file_digest(path, algorithm="md5") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path, md5=None, sha256=None, who="dataset"):
    """Raise IntegrityError unless the file at `path` has the expected checksum."""
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected is None:
            continue
        actual = file_digest(path, algorithm)
        if actual != expected.lower():
            raise IntegrityError(
                f"{who}: {path} is corrupt or incomplete: its {algorithm} is {actual}, the "
                f"published one is {expected}. Delete the file and download it again "
                f"(download=True)")


def download_file(url, path, md5=None, sha256=None, timeout=TIMEOUT_SECONDS, who="dataset",
                  sha256_prefix=None):
    """Download `url` to `path`, checking the checksum before the file appears at `path`.
    `sha256_prefix` checks only the leading hex digits, as torch.hub does with the digits
    in a published weights file's name (resnet18-f37072fd.pth).

    Raises urllib.error.URLError (or OSError) when the server cannot be reached and
    IntegrityError when the bytes do not match the published checksum; in both cases `path`
    is left untouched and no partial file remains.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    hashes = {name: hashlib.new(name) for name, want in (("md5", md5), ("sha256", sha256),
                                                         ("sha256", sha256_prefix))
              if want is not None}

    def write(out):
        with urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                for h in hashes.values():
                    h.update(chunk)
        for name, want in (("md5", md5), ("sha256", sha256)):
            if want is not None and hashes[name].hexdigest() != want.lower():
                raise IntegrityError(
                    f"{who}: the download of {url} is corrupt or incomplete: its {name} is "
                    f"{hashes[name].hexdigest()}, the published one is {want}. Nothing was "
                    f"saved to {path}; try again later or fetch the file by hand")
        if sha256_prefix is not None and \
                not hashes["sha256"].hexdigest().startswith(sha256_prefix.lower()):
            raise IntegrityError(
                f"{who}: the download of {url} is corrupt or incomplete: its sha256 is "
                f"{hashes['sha256'].hexdigest()}, the published one starts with "
                f"{sha256_prefix}. Nothing was saved to {path}; try again later or fetch the "
                f"file by hand")

    atomic_write(path, write)


def download_from_mirrors(filename, mirrors, path, md5=None, sha256=None, who="dataset"):
    """Try each mirror in turn (URL = mirror + filename) until one serves the right bytes."""
    failures, errors = [], []
    for mirror in mirrors:
        url = mirror + filename
        print(f"{who}: downloading {url}")
        try:
            download_file(url, path, md5=md5, sha256=sha256, who=who)
            return path
        except (urllib.error.URLError, OSError, IntegrityError) as e:
            failures.append(f"  {url}: {e}")
            errors.append(e)
    # every mirror answered with wrong bytes: that is a checksum failure, not a network one
    cls = IntegrityError if all(isinstance(e, IntegrityError) for e in errors) else RuntimeError
    raise cls(f"{who}: could not download {filename} from any mirror:\n" + "\n".join(failures)
              + f"\nDownload it by hand and save it as {path}")


def extract_archive(archive, dest, who="dataset"):
    """Unpack a .tar(.gz) or .zip archive into `dest`, refusing any member that would land
    outside it (absolute paths, '..', links out of the tree) and anything but regular files
    and folders. Raises IntegrityError when the archive is truncated or unsafe."""
    import tarfile
    import zipfile

    dest = os.path.abspath(dest)
    os.makedirs(dest, exist_ok=True)

    def inside(name):
        target = os.path.abspath(os.path.join(dest, name))
        if os.path.commonpath([dest, target]) != dest:
            raise IntegrityError(f"{who}: {archive} holds {name!r}, a path outside {dest}; "
                                 f"refusing to unpack it")
        return target

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    inside(info.filename)
                z.extractall(dest)
            return dest
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for m in members:
                inside(m.name)
                if not (m.isfile() or m.isdir()):
                    raise IntegrityError(f"{who}: {archive} holds {m.name!r}, which is not a "
                                         f"regular file or folder; refusing to unpack it")
            # Python >= 3.11.4 also applies its own "data" filter (no devices, no escapes)
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, members=members, **safe)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as e:
        raise IntegrityError(f"{who}: {archive} cannot be unpacked ({e}); it is probably "
                             f"truncated: delete it and download it again") from e
    return dest
