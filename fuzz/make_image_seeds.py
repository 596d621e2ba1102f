"""Writes small image seeds for the image_decode fuzz target (fuzz/seeds/image_decode/): one
per decoder path the target reaches (baseline and progressive JPEG, gray and colour, 4:2:0 and
4:4:4; PNG gray, gray+alpha, RGB, RGBA, palette, 16-bit). Each under 2 KB, so the
fuzzer spends its time in the decoders rather than on large photos. Needs Pillow."""
import pathlib
from PIL import Image

out = pathlib.Path(__file__).parent / "seeds" / "image_decode"
out.mkdir(parents=True, exist_ok=True)
w, h = 24, 17
rgb = Image.new("RGB", (w, h))
rgb.putdata([((x * 11) % 256, (y * 15) % 256, ((x + y) * 7) % 256) for y in range(h) for x in range(w)])
gray = rgb.convert("L")
rgb.save(out / "rgb_baseline.jpg", quality=80)
rgb.save(out / "rgb_progressive.jpg", quality=60, progressive=True)
rgb.save(out / "rgb_444.jpg", quality=90, subsampling=0)
gray.save(out / "gray.jpg", quality=75)
gray.save(out / "gray.png")
gray.convert("LA").save(out / "gray_alpha.png")
rgb.save(out / "rgb.png")
rgb.convert("RGBA").save(out / "rgba.png")
rgb.convert("P", palette=Image.ADAPTIVE, colors=16).save(out / "palette.png")
gray.convert("I;16").save(out / "gray16.png")
for p in sorted(out.iterdir()):
    print(p.name, p.stat().st_size)
