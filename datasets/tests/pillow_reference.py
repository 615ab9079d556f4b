"""Reference hashes for datasets/tests/transform.rs, computed with Pillow.

torchvision's standard evaluation transform on a PIL image is
`Resize(256)` (Pillow's `Image.resize(size, Image.BILINEAR)`, size from
`_compute_resized_output_size`) then `CenterCrop(224)` (offsets
`int(round((size - crop) / 2.0))`). torchvision itself needs torch, which is
too large to install here, so this script applies the same two steps with
Pillow directly, generalised to crop `c` with shorter side
`round(c * 256 / 224)`, and prints the FNV-1a 64 hash of each channel-major
result. Run it in a venv with Pillow and numpy:

    python3 -m venv target/pyvenv && target/pyvenv/bin/pip install pillow numpy
    target/pyvenv/bin/python datasets/tests/pillow_reference.py
"""
import PIL
import numpy as np
from PIL import Image

# (height, width, channels, crop): landscape and portrait ImageNet shapes,
# an odd crop offset (58.5 rounds to 58), a large downscale, upscales, and
# an image already at the resize size.
CASES = [
    (375, 500, 3, 224),
    (500, 375, 3, 224),
    (300, 402, 3, 224),
    (1200, 900, 3, 224),
    (15, 20, 3, 32),
    (224, 224, 3, 224),
    (256, 256, 3, 224),
    (61, 47, 1, 32),
]


def pixel_formula(h, w, c):
    """The test image both sides compute: busy, so the filter matters."""
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return ((x * x * 3 + y * 7 + ch * 85 + (x * y) // 5 + (y * y) // 3) % 256).astype(np.uint8)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def eval_transform(img, crop):
    short = (crop * 256 + 112) // 224
    w, h = img.size
    # torchvision _compute_resized_output_size for an int size.
    if w <= h:
        new_w, new_h = short, int(short * h / w)
    else:
        new_w, new_h = int(short * w / h), short
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.BILINEAR)
    top = int(round((new_h - crop) / 2.0))
    left = int(round((new_w - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


def main():
    print(f"# Pillow {PIL.__version__}")
    for h, w, c, crop in CASES:
        arr = pixel_formula(h, w, c)
        img = Image.fromarray(arr[:, :, 0] if c == 1 else arr, "L" if c == 1 else "RGB")
        out = np.asarray(eval_transform(img, crop))
        if c == 1:
            out = out[:, :, None]
        chw = np.ascontiguousarray(out.transpose(2, 0, 1)).tobytes()
        print(f"({h}, {w}, {c}, {crop}, 0x{fnv1a64(chw):016x}),")


if __name__ == "__main__":
    main()
