#!/usr/bin/env python3
"""The README's screenshots of every page at desktop and phone sizes (#23), made from the
browser tests' artifacts: `make test-browser` (tests/browser/pages.test.mjs) writes
tests/browser/artifacts/page-<page>-<desktop|phone>.png; this script shrinks each to a
thumbnail of the first screen and a half (desktop 640 px wide, phone 240 px) in
docs/screenshots/ as JPEG.

Not run by CI (it needs Pillow: `python3 -m venv /tmp/v && /tmp/v/bin/pip install pillow`):

    make test-browser && /tmp/v/bin/python scripts/readme-screenshots.py
"""
import pathlib
import sys

from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"
OUT = ROOT / "docs" / "screenshots"
# (width of the thumbnail, height of the window the page was shot in)
SIZES = {"desktop": (640, 900), "phone": (240, 844)}


def main():
    shots = sorted(ARTIFACTS.glob("page-*-*.png"))
    if not shots:
        sys.exit(f"no page screenshots in {ARTIFACTS}: run `make test-browser` first")
    OUT.mkdir(parents=True, exist_ok=True)
    for shot in shots:
        size = shot.stem.rsplit("-", 1)[1]
        if size not in SIZES:
            continue
        width, window = SIZES[size]
        im = Image.open(shot).convert("RGB")
        im = im.crop((0, 0, im.width, min(im.height, int(window * 1.5))))
        im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        out = OUT / f"{shot.stem.removeprefix('page-')}.jpg"
        im.save(out, quality=72, optimize=True)
        print(f"{out.relative_to(ROOT)}: {im.width}x{im.height}, {out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
