"""Where numba caches fastrl's compiled kernels: one folder per state of the package's numba sources.

numba's disk cache (``cache=True``) checks only the file that defines a kernel. A kernel that inlines kernels
of another file (the replay's fused prioritized round calls the sum tree's descent) would go on loading its
stale build after that other file changed, silently running old code. So unless ``NUMBA_CACHE_DIR`` is set,
fastrl points numba at ``~/.cache/fastrl/numba/<digest of every fastrl source that uses numba>``: a change to
any of them starts a fresh folder; folders unused for a day are removed (not at once: another checkout may be
using its own).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

STALE_AFTER_S = 24 * 3600


def configure(package: Path = Path(__file__).parent) -> None:
    """Set numba's cache folder (before fastrl's kernels are compiled); a user's NUMBA_CACHE_DIR is kept."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        source = path.read_bytes()
        if b"numba" in source:
            digest.update(str(path.relative_to(package)).encode() + b"\0" + source)
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fastrl" / "numba"
    folder = root / digest.hexdigest()[:16]
    if not folder.is_dir():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # no writable cache: numba's own default applies
        for old in root.iterdir():  # builds of other sources, unused for a day
            if old != folder and time.time() - old.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(old, ignore_errors=True)
    os.utime(folder)  # in use
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # numba read its settings already: tell it directly
        sys.modules["numba"].config.CACHE_DIR = str(folder)
