#!/usr/bin/env python3
"""Export a randomly initialised torchvision classifier as a Hugging Face-layout
ONNX package that imgcls can load:

    <outdir>/onnx/model.onnx          input "pixel_values" [batch,3,224,224], output "logits" [batch,1000]
    <outdir>/config.json              id2label (class_0 .. class_999)
    <outdir>/preprocessor_config.json torchvision's ImageNet eval transform

Usage: /usr/bin/python3 scripts/export_torchvision.py <arch> <outdir> [--seed N] [--opset N]

Pretrained weights cannot be downloaded here, so the weights are random (fixed
seed). That is enough for a parity check between imgcls and PyTorch, provided
the model does not collapse; `build_model` takes two deterministic steps so
the logits carry signal (see its docstring). `scripts/torch_reference.py`
imports `build_model` so both sides run exactly the same weights.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

ARCHS = ("mobilenet_v2", "densenet121")
NUM_CLASSES = 1000
INPUT_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# The final Linear layer's weight and bias are multiplied by this, so the
# softmax is peaked (top-1 typically 0.1-0.9) rather than near-uniform.
CLASSIFIER_SCALE = 10.0
# Images in the BatchNorm calibration batch.
CALIBRATION_BATCH = 8


def classifier_layer(model: torch.nn.Module) -> torch.nn.Linear:
    """The final Linear layer (mobilenet_v2: classifier[1]; densenet121: classifier)."""
    head = model.classifier
    if isinstance(head, torch.nn.Sequential):
        head = [m for m in head if isinstance(m, torch.nn.Linear)][-1]
    assert isinstance(head, torch.nn.Linear), f"unexpected classifier {model.classifier!r}"
    return head


def calibration_batch(seed: int, n: int = CALIBRATION_BATCH) -> torch.Tensor:
    """Deterministic, image-like inputs (already normalised scale): random noise
    at several scales, upsampled bilinearly, so most energy is at low spatial
    frequencies as in photos."""
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, 3, INPUT_SIZE, INPUT_SIZE)
    for side, weight in ((4, 1.0), (16, 0.5), (56, 0.3), (INPUT_SIZE, 0.1)):
        noise = torch.randn(n, 3, side, side, generator=g)
        out += weight * F.interpolate(noise, size=INPUT_SIZE, mode="bilinear", align_corners=False)
    return out


def build_model(arch: str, seed: int) -> torch.nn.Module:
    """The model both sides use, in eval mode. Deterministic in (arch, seed):

    1. torch.manual_seed(seed); torchvision.models.<arch>(weights=None).
    2. BatchNorm calibration: random-init BatchNorm has running mean 0 / var 1,
       and torchvision's mobilenet_v2 init (kaiming fan_out on depthwise
       convs) shrinks activations at every block, so uncalibrated its logits
       are ~1e-9 for any input -- a parity check on those would prove
       nothing. We set every BatchNorm's running statistics to the batch
       statistics of `calibration_batch(seed)` (one train-mode forward pass,
       cumulative average), which keeps activations O(1) in eval mode.
    3. The final Linear layer's weight and bias are scaled by CLASSIFIER_SCALE.
    """
    if arch not in ARCHS:
        raise SystemExit(f"unknown arch {arch!r}; expected one of {', '.join(ARCHS)}")
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: one batch -> its exact statistics
    model.train()
    with torch.no_grad():
        model(calibration_batch(seed))
    model.eval()

    head = classifier_layer(model)
    with torch.no_grad():
        head.weight.mul_(CLASSIFIER_SCALE)
        head.bias.mul_(CLASSIFIER_SCALE)
    return model


def labels() -> list[str]:
    return [f"class_{i}" for i in range(NUM_CLASSES)]


def preprocessor_config() -> dict:
    """torchvision's ImageNet eval transform (Resize(256) bilinear, CenterCrop(224),
    ToTensor, Normalize) in Hugging Face's preprocessor_config.json format."""
    return {
        "do_resize": True,
        "size": {"shortest_edge": 256},
        "resample": 2,  # PIL bilinear
        "do_center_crop": True,
        "crop_size": {"height": INPUT_SIZE, "width": INPUT_SIZE},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(IMAGENET_MEAN),
        "image_std": list(IMAGENET_STD),
        "do_convert_rgb": True,
        "image_processor_type": "ViTImageProcessor",
    }


def export(arch: str, outdir: str, seed: int, opset: int) -> None:
    import onnx

    model = build_model(arch, seed)
    os.makedirs(os.path.join(outdir, "onnx"), exist_ok=True)
    onnx_path = os.path.join(outdir, "onnx", "model.onnx")
    dummy = calibration_batch(seed + 1, n=1)
    with torch.no_grad():
        torch.onnx.export(
            model,
            dummy,
            onnx_path,
            input_names=["pixel_values"],
            output_names=["logits"],
            dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            training=torch.onnx.TrainingMode.EVAL,
        )
    onnx.checker.check_model(onnx_path)

    names = labels()
    config = {
        "architectures": [arch],
        "model_type": arch,
        "num_labels": NUM_CLASSES,
        "id2label": {str(i): name for i, name in enumerate(names)},
        "label2id": {name: i for i, name in enumerate(names)},
        "torchvision_export": {
            "arch": arch,
            "seed": seed,
            "weights": "random init (no pretrained weights), BatchNorm calibrated, classifier scaled",
            "classifier_scale": CLASSIFIER_SCALE,
            "opset": opset,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
        },
    }
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(outdir, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_config(), f, indent=1)
    print(f"exported {arch} (seed {seed}, opset {opset}) to {outdir}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("arch", choices=ARCHS)
    p.add_argument("outdir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--opset", type=int, default=14)
    a = p.parse_args(argv)
    export(a.arch, a.outdir, a.seed, a.opset)


if __name__ == "__main__":
    main()
