#!/usr/bin/env python3
"""Compare `imgcls predict --json --top-k all` output with scripts/torch_reference.py.

Usage:
  compare_scores.py [--title TEXT] [--full] [--pixels-dir DIR [--pixels-desc TEXT]]
                    [--score-tol 1e-4] [--logit-tol 1e-3] [--report-only]
                    --run ARCH IMGCLS_SCORES IMGCLS_LOGITS TORCH [--run ...]

IMGCLS_SCORES: imgcls JSON lines with the package's softmax; IMGCLS_LOGITS:
the same run with --activation none (raw logits); TORCH: torch_reference.py's
JSON lines. imgcls lists {label, index, score} ranked by score; we map back by
index and check every one of the 1000 classes is there once, with its label.

--pixels-dir holds <basename>.rgb, the raw 224x224 RGB pixels imgcls fed
the model for each file; they are compared with the PIL image
torch_reference.py feeds PyTorch (`reference_image`: PIL's decoding, and with
--full also its resize and crop), byte for byte. --full must match the mode
torch_reference.py ran in.

Prints a table and exits 1 if any image's max |score diff| exceeds
--score-tol or max |logit diff| exceeds --logit-tol (or the output is
malformed). With --report-only the tolerances are not a gate: rows over them
are marked, and only malformed output or an imgcls error fails. Pixel
differences are reported, not gated: their effect shows in the score and
logit columns.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import INPUT_SIZE, reference_image  # noqa: E402  (PIL only; no torch)

FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WebP"}


def read_jsonl(path: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj["file"] in out:
                raise SystemExit(f"{path}:{n}: {obj['file']} appears twice")
            out[obj["file"]] = obj
    return out


def imgcls_vector(obj: dict, what: str) -> np.ndarray:
    """imgcls predictions -> a score per class index, after checking them."""
    if "error" in obj:
        raise ValueError(f"imgcls failed on it ({what}): {obj['error']}: {obj.get('message')}")
    preds = obj["predictions"]
    n = len(preds)
    vec = np.full(n, np.nan)
    for p in preds:
        i = p["index"]
        if not (0 <= i < n) or not np.isnan(vec[i]):
            raise ValueError(f"imgcls {what}: index {i} out of range or repeated")
        if p["label"] != f"class_{i}":
            raise ValueError(f"imgcls {what}: index {i} has label {p['label']!r}, expected 'class_{i}'")
        vec[i] = p["score"]
    ranked = [p["score"] for p in preds]
    if any(a < b for a, b in zip(ranked, ranked[1:])):
        raise ValueError(f"imgcls {what}: predictions are not sorted by score")
    return vec


def pixel_diff(file: str, pixels_dir: str, full: bool) -> tuple[int, int]:
    """(max |diff|, number of differing values) between imgcls's pixels and PIL's."""
    pil = np.asarray(reference_image(file, full), dtype=np.int16)
    raw = np.fromfile(os.path.join(pixels_dir, os.path.basename(file) + ".rgb"), dtype=np.uint8)
    if raw.size != pil.size:
        raise ValueError(f"imgcls decoded {raw.size} values, PIL {pil.size}")
    d = np.abs(raw.reshape(pil.shape).astype(np.int16) - pil)
    return int(d.max()), int((d != 0).sum())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--run", nargs=4, action="append", required=True, metavar=("ARCH", "IMGCLS_SCORES", "IMGCLS_LOGITS", "TORCH"))
    p.add_argument("--pixels-dir")
    p.add_argument("--pixels-desc", default="imgcls (sharp) and PIL decode",
                   help="how the pixel summary names the two sides, e.g. 'imgcls (sharp) and PIL decode'")
    p.add_argument("--full", action="store_true", help="torch_reference.py ran with --full: the PIL pixels are resized and cropped")
    p.add_argument("--title", help="printed above the table")
    p.add_argument("--report-only", action="store_true", help="report differences over the tolerances without failing")
    p.add_argument("--score-tol", type=float, default=1e-4)
    p.add_argument("--logit-tol", type=float, default=1e-3)
    a = p.parse_args()

    header = ["arch", "file", "format", "px max|d|", "max|d score|", "max|d logit|", "rel logit", "top-1 imgcls", "top-1 torch", ""]
    rows: list[list[str]] = []
    worst = {"score": 0.0, "logit": 0.0, "rel": 0.0}
    failures: list[str] = []
    pixel_cache: dict[str, tuple[int, int]] = {}
    top1_agree = 0
    over_tol = 0

    for arch, scores_path, logits_path, torch_path in a.run:
        im_scores, im_logits, ref = read_jsonl(scores_path), read_jsonl(logits_path), read_jsonl(torch_path)
        if not (set(im_scores) == set(im_logits) == set(ref)):
            failures.append(f"{arch}: the three outputs name different files")
        for file in sorted(ref):
            name = os.path.basename(file)
            fmt = FORMATS.get(os.path.splitext(file)[1].lower(), "?")
            try:
                s_img = imgcls_vector(im_scores[file], "scores")
                l_img = imgcls_vector(im_logits[file], "logits")
                s_ref = np.asarray(ref[file]["scores"], dtype=np.float64)
                l_ref = np.asarray(ref[file]["logits"], dtype=np.float64)
                if s_img.shape != s_ref.shape or l_img.shape != l_ref.shape:
                    raise ValueError(f"imgcls gave {s_img.size} scores, torch {s_ref.size}")
            except (KeyError, ValueError) as e:
                failures.append(f"{arch} {name}: {e}")
                rows.append([arch, name, fmt, "", "", "", "", "", "", "FAIL"])
                continue
            if a.pixels_dir:
                if file not in pixel_cache:
                    pixel_cache[file] = pixel_diff(file, a.pixels_dir, a.full)
                px_max, px_n = pixel_cache[file]
                px = f"{px_max}" + (f" ({px_n})" if px_n else "")
            else:
                px = "-"
            ds = float(np.max(np.abs(s_img - s_ref)))
            dl = float(np.max(np.abs(l_img - l_ref)))
            rel = dl / float(np.max(np.abs(l_ref)))
            worst["score"], worst["logit"], worst["rel"] = max(worst["score"], ds), max(worst["logit"], dl), max(worst["rel"], rel)
            t_img, t_ref = int(np.argmax(s_img)), int(np.argmax(s_ref))
            ok = ds <= a.score_tol and dl <= a.logit_tol
            top1_agree += t_img == t_ref
            if not ok:
                over_tol += 1
                if not a.report_only:
                    failures.append(f"{arch} {name}: max |score diff| {ds:.3g} (tol {a.score_tol:g}), max |logit diff| {dl:.3g} (tol {a.logit_tol:g})")
            status = ("within tol" if ok else "over tol") if a.report_only else ("ok" if ok else "FAIL")
            rows.append([
                arch, name, fmt, px, f"{ds:.2e}", f"{dl:.2e}", f"{rel:.1e}",
                f"{t_img} ({s_img[t_img]:.4f})", f"{t_ref} ({s_ref[t_ref]:.4f})",
                status + ("" if t_img == t_ref else ", top-1 differs"),
            ])

    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    if a.title:
        print(a.title)
    print(line(header))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))
    print()
    print(f"{len(rows)} comparisons; worst max |score diff| {worst['score']:.3e} (tol {a.score_tol:g}), "
          f"worst max |logit diff| {worst['logit']:.3e} (tol {a.logit_tol:g}), "
          f"worst relative to max |logit| {worst['rel']:.2e}; top-1 agrees on {top1_agree} of {len(rows)}")
    if a.report_only:
        print(f"report only (not gated): {over_tol} of {len(rows)} comparisons exceed the tolerances")
    if a.pixels_dir:
        differing = {f: v for f, v in pixel_cache.items() if v[0]}
        if differing:
            print(f"pixels: {a.pixels_desc} these files differently (max |diff|, values differing):")
            for f, (m, n) in sorted(differing.items()):
                print(f"  {os.path.basename(f)}: {m}, {n} of {INPUT_SIZE * INPUT_SIZE * 3}")
        else:
            print(f"pixels: {a.pixels_desc} all {len(pixel_cache)} files to identical RGB values")
    if failures:
        print(f"\nFAILED ({len(failures)}):", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    print("PASS (report only)" if a.report_only else "PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
