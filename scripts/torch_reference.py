#!/usr/bin/env python3
"""PyTorch reference scores for the parity check against `imgcls predict`.

Usage: /usr/bin/python3 scripts/torch_reference.py [--full] <arch> <seed> <image>...

Rebuilds the model that scripts/export_torchvision.py exports (same
`build_model`, same seed) and, for each image, builds the model input with PIL
(`reference_image`) and runs it.

Without --full, each image must already be 224x224: PIL open,
convert('RGB'), ToTensor, Normalize(ImageNet mean/std), forward. This is what
`imgcls predict --resize-mode none` is compared with.

With --full, images of any size get the preprocessing the exported package
declares (preprocessor_config.json: shortest_edge 256, resample 2, crop
224x224), done the way Hugging Face image processors do it on PIL images:
PIL open, convert('RGB'), img.resize((new_w, new_h), Image.BILINEAR) with the
shorter side 256 and the longer side floor(256 * long / short), then a crop
at left = (new_w - 224) // 2, top = (new_h - 224) // 2 (floored, unlike
torchvision's CenterCrop, which rounds), then ToTensor, Normalize, forward.
This is what `imgcls predict` (its own preprocessing) is compared with.

Prints one JSON line per image:

    {"file": ..., "scores": [1000 softmax scores], "logits": [1000 raw logits]}

Logits are the model's float32 outputs; the softmax is taken in float64, as
imgcls does.

`reference_image` needs only PIL, and this module imports torch only in
`main`, so scripts/compare_scores.py imports it cheaply to compare pixels.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# The preprocessing export_torchvision.preprocessor_config() declares; `main`
# checks that the two agree.
INPUT_SIZE = 224
SHORTEST_EDGE = 256


def resized_size(width: int, height: int, shortest_edge: int = SHORTEST_EDGE) -> tuple[int, int]:
    """(new_w, new_h): the shorter side to `shortest_edge`, the longer to
    int(shortest_edge * long / short), as Hugging Face's get_resize_output_image_size
    and torchvision's Resize(int) compute it."""
    short, long = min(width, height), max(width, height)
    new_long = shortest_edge * long // short
    return (shortest_edge, new_long) if width <= height else (new_long, shortest_edge)


def reference_image(file: str, full: bool) -> Image.Image:
    """The 224x224 RGB PIL image the model sees for `file` (see the module docstring)."""
    with Image.open(file) as im:
        rgb = im.convert("RGB")
    if not full:
        assert rgb.size == (INPUT_SIZE, INPUT_SIZE), f"{file} is {rgb.size[0]}x{rgb.size[1]}; expected {INPUT_SIZE}x{INPUT_SIZE}"
        return rgb
    new_w, new_h = resized_size(*rgb.size)
    resized = rgb.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - INPUT_SIZE) // 2, (new_h - INPUT_SIZE) // 2
    assert left >= 0 and top >= 0, f"{file}: resized to {new_w}x{new_h}, smaller than the {INPUT_SIZE}x{INPUT_SIZE} crop"
    return resized.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="resize (shorter side 256, PIL bilinear) and centre crop 224 (floored offset)")
    p.add_argument("arch")
    p.add_argument("seed", type=int)
    p.add_argument("files", nargs="+", metavar="image")
    a = p.parse_args(argv)

    import torch
    from torchvision import transforms

    import export_torchvision as ex

    pre = ex.preprocessor_config()
    declared = (pre["size"], pre["resample"], pre["crop_size"], ex.INPUT_SIZE)
    expected = ({"shortest_edge": SHORTEST_EDGE}, 2, {"height": INPUT_SIZE, "width": INPUT_SIZE}, INPUT_SIZE)
    assert declared == expected, f"export_torchvision declares {declared}; this reference implements {expected}"

    model = ex.build_model(a.arch, a.seed)
    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize(ex.IMAGENET_MEAN, ex.IMAGENET_STD)])
    for file in a.files:
        img = reference_image(file, a.full)
        with torch.no_grad():
            logits = model(to_input(img).unsqueeze(0))[0]
        scores = torch.softmax(logits.double(), dim=0)
        print(json.dumps({"file": file, "scores": scores.tolist(), "logits": logits.tolist()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
