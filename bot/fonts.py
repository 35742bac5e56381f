"""The font the /status chart draws with: one that has Hangul as well as Latin, found on this machine.

Looked for in this order: CHART_FONT (the operator's own file), Noto Sans CJK (Linux: the Docker images and CI
install fonts-noto-cjk), Malgun Gothic (Windows), Apple SD Gothic Neo (macOS), then whatever fontconfig
(``fc-match``) offers for Korean. A font counts only if it really draws Hangul: fc-match answers with *some*
font whatever is installed, and a CHART_FONT may be a Latin-only file. In a collection (.ttc) the Korean face
is taken (Noto Sans CJK KR: Korean forms of the Hanja in names).

None found: one warning says what to install, and the chart is drawn with Pillow's own font. That font is
Latin only, so Hangul shows as boxes, but the chart is still drawn.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

PROBE = "한글"  # a font that draws these as glyphs of their own draws Hangul
NOTDEF = "\u0378"  # an unassigned code point: every font draws its missing-glyph (.notdef) for it
MISSING = (  # for the log, in English like every log line; `reelbot doctor` says it in the operator's language
    "No font with Hangul found for the /status chart, so Korean text in it shows as boxes. Install Noto Sans "
    "CJK (Debian/Ubuntu: apt-get install fonts-noto-cjk; Fedora: dnf install google-noto-sans-cjk-fonts) or "
    "set CHART_FONT to a .ttf, .otf or .ttc file with Hangul."
)

# Font files worth a look on Linux, best first (fnmatch patterns on the file name).
_LINUX_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
_LINUX_NAMES = (
    "NotoSansCJK-Regular.ttc", "NotoSansCJKkr-Regular.otf", "NotoSansKR-Regular.otf", "NotoSansKR-Regular.ttf",
    "NotoSansCJK*-Regular.tt[cf]", "NotoSansKR*.[ot]tf", "NanumGothic.ttf",
)
_WINDOWS_NAMES = ("malgun.ttf", "NotoSansKR-Regular.otf", "NotoSansKR-Regular.ttf")
_MACOS_FILES = (
    "/System/Library/Fonts/AppleSDGothicNeo.ttc", "/Library/Fonts/AppleSDGothicNeo.ttc",
    "/System/Library/Fonts/Supplemental/AppleGothic.ttf",
)
_MAX_FACES = 16  # faces tried in one collection (Noto Sans CJK has 10)


@dataclass(frozen=True, slots=True)
class ChartFont:
    """A font file and the face in it, or Pillow's own font (``path`` None)."""

    path: str | None
    index: int = 0

    @property
    def draws_hangul(self) -> bool:
        return self.path is not None

    def sized(self, size: int) -> Font:
        """The font at ``size`` pixels. A new object per call: FreeType faces are not shared across threads,
        and the chart is drawn in a worker thread."""
        if self.path is None:
            return ImageFont.load_default(size=size)
        return ImageFont.truetype(self.path, size, index=self.index)


@functools.cache
def chart_font(override: str | None = None) -> ChartFont:
    """The chart's font: ``override`` (CHART_FONT) if it draws Hangul, else the best one on this machine,
    else Pillow's own with one warning. Looked up once per process."""
    if override:
        found = _korean_face(Path(override))
        if found is not None:
            return found
        log.warning("CHART_FONT=%s cannot be read or has no Hangul; looking for a font on this system", override)
    for path in _candidates():
        found = _korean_face(path)
        if found is not None:
            log.debug("the /status chart draws with %s (face %d)", found.path, found.index)
            return found
    log.warning(MISSING)
    return ChartFont(None)


def drawable(text: str, font: Font) -> str:
    """``text`` as ``font`` can take it: Pillow's bitmap font (no FreeType) knows Latin-1 only and raises on
    anything else, so there other characters become "?"."""
    if isinstance(font, ImageFont.FreeTypeFont):
        return text
    return text.encode("latin-1", "replace").decode("latin-1")


def glyphs(font: Font, text: str) -> bytes:
    """``text`` drawn alone in ``font``, as a bitmap to compare (with its size, so shifted ink differs)."""
    text = drawable(text, font)
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    size = (max(1, right - left), max(1, bottom - top))
    image = Image.new("L", size)
    ImageDraw.Draw(image).text((-left, -top), text, font=font, fill=255)
    return f"{size}".encode() + image.tobytes()


def has_hangul(font: Font) -> bool:
    """Whether ``font`` draws each probe syllable as a glyph of its own rather than its missing-glyph box."""
    notdef = glyphs(font, NOTDEF)
    drawn = [glyphs(font, char) for char in PROBE]
    return all(bitmap != notdef for bitmap in drawn) and len(set(drawn)) == len(drawn)


def _korean_face(path: Path) -> ChartFont | None:
    """The face of ``path`` to draw Korean with: a face named KR (not the monospaced one) if the file is a
    collection that has one, else the first face that draws Hangul; None if none does or it cannot be read."""
    fallback = None
    for index in range(_MAX_FACES):
        try:
            font = ImageFont.truetype(str(path), 16, index=index)
        except OSError:  # no such face (the end of a collection), or not a font file at all
            break
        family = font.getname()[0] or ""
        korean = ("KR" in family.split() or "Korean" in family or "Gothic" in family) and "Mono" not in family
        if (korean or fallback is None) and has_hangul(font):
            if korean:
                return ChartFont(str(path), index)
            fallback = ChartFont(str(path), index)
    return fallback


def _candidates() -> Iterator[Path]:
    """Font files that may have Hangul, best first: the platform's known places, then fontconfig's pick."""
    if sys.platform == "win32":
        for folder in (Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts",
                       Path(os.environ.get("LOCALAPPDATA", "~")).expanduser() / "Microsoft/Windows/Fonts"):
            yield from (folder / name for name in _WINDOWS_NAMES if (folder / name).is_file())
    elif sys.platform == "darwin":
        yield from (Path(name) for name in _MACOS_FILES if Path(name).is_file())
    else:
        yield from _linux_fonts()
    matched = _fc_match()
    if matched is not None:
        yield matched


def _linux_fonts() -> list[Path]:
    ranked: list[tuple[int, str, Path]] = []
    for folder in _LINUX_DIRS:
        for root, _dirs, files in os.walk(Path(folder).expanduser()):
            for name in files:
                rank = next((i for i, pattern in enumerate(_LINUX_NAMES) if fnmatch.fnmatch(name, pattern)), None)
                if rank is not None:
                    ranked.append((rank, name, Path(root) / name))
    return [path for _rank, _name, path in sorted(ranked)]


def _fc_match() -> Path | None:
    """fontconfig's choice for Korean sans-serif text, if fontconfig is here (it may not draw Hangul)."""
    if shutil.which("fc-match") is None:
        return None
    try:
        done = subprocess.run(["fc-match", "-f", "%{file}", "sans-serif:lang=ko"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
