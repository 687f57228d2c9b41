#!/usr/bin/env bash
# End-to-end parity check: `imgcls predict` on torchvision models exported in
# the Hugging Face layout gives the same scores as PyTorch on the same JPEG,
# PNG and WebP photos. Two gated stages and one report:
#
# 1. "224x224 photos": photos already at the input size, run with
#    `--resize-mode none`, so only decoding, normalisation and inference are
#    compared.
# 2. "full-size photos": the photos at their original size, run with
#    `--resampler pillow` and the package's own preprocessing (shorter side
#    256, PIL bilinear, centre crop 224 at the floored offset), against
#    PyTorch on PIL's resize and crop (scripts/torch_reference.py --full).
# 3. Report only, not gated: the default path (no --resampler flag, i.e.
#    sharp resizing in the decoder with shrink-on-load) on the same full-size
#    photos against the same PIL reference, to say how far the fast path is
#    from PIL.
#
# Usage: scripts/compare-torchvision.sh
# Environment: TORCH_PYTHON (default /usr/bin/python3, needs torch, torchvision, onnx,
#   PIL, numpy, skimage), SEED (default 0), ARCHS (default
#   "mobilenet_v2 densenet121"), KEEP=1 to keep the work directory.
#
# Steps: build imgcls if needed; make 224x224 and full-size JPEG (q95), PNG
# and WebP copies of real photos from skimage's data folder with sharp; dump
# the pixels imgcls's decoder gets from each 224x224 file; export each arch
# with scripts/export_torchvision.py (random weights, fixed seed); run
# `imgcls predict --json --top-k all --resize-mode none` (softmax scores) and
# again with `--activation none` (raw logits) on the 224x224 files, and the
# same without --resize-mode, with and without `--resampler pillow`, on the
# full-size files; run scripts/torch_reference.py on the same files (--full
# for the full-size ones); dump the 224x224 pixels imgcls's two preprocessing
# paths produce from each full-size file; compare with
# scripts/compare_scores.py, which prints a table per stage. The script exits
# 1 if, in stage 1 or 2, any score differs by more than 1e-4 or any logit by
# more than 1e-3 (or imgcls fails on an image, in any stage); it runs every
# stage and prints every table first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PY=${TORCH_PYTHON:-/usr/bin/python3}
SEED=${SEED:-0}
read -r -a ARCH_LIST <<<"${ARCHS:-mobilenet_v2 densenet121}"
# Real photos shipped with scikit-image (camera.png is grayscale, and its JPEG
# and PNG copies stay 1-channel).
PHOTOS=(astronaut.png chelsea.png coffee.png rocket.jpg motorcycle_left.png camera.png)

step() { printf '== %s\n' "$*" >&2; }

if [[ ! -f dist/cli/main.js ]] || [[ -n "$(find src -name '*.ts' -newer dist/cli/main.js -print -quit)" ]]; then
  step "building imgcls"
  npm run build --silent >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/imgcls-torchvision.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
  step "work directory: $WORK (kept)"
else
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK/images" "$WORK/full" "$WORK/pixels" "$WORK/pixels-pillow" "$WORK/pixels-sharp" "$WORK/models" "$WORK/out"

SKDATA=$("$PY" -c "import skimage, os; print(os.path.join(os.path.dirname(skimage.__file__), 'data'))")
step "making 224x224 and full-size JPEG/PNG/WebP copies of ${PHOTOS[*]} from $SKDATA"
# Run from the repo root so that `sharp` resolves from node_modules.
# SIZE is "224" (resize to 224x224, cover) or "full" (original size).
make_copies() {
node --input-type=module -e '
import sharp from "sharp";
import path from "node:path";
const [size, src, out, ...names] = process.argv.slice(1);
for (const name of names) {
  const base = path.join(out, path.parse(name).name);
  const file = path.join(src, name);
  // sharp writes RGB by default; keep grayscale sources grayscale (JPEG and
  // PNG have a 1-channel form; WebP does not) to test that decoding path too.
  const gray = (await sharp(file).metadata()).channels === 1;
  const img = () => {
    const s = size === "full" ? sharp(file) : sharp(file).resize(224, 224, { fit: "cover" });
    return gray ? s.toColourspace("b-w") : s;
  };
  await img().jpeg({ quality: 95 }).toFile(`${base}.jpg`);
  await img().png().toFile(`${base}.png`);
  await img().webp().toFile(`${base}.webp`);
}
' "$@"
}
make_copies 224 "$SKDATA" "$WORK/images" "${PHOTOS[@]}"
make_copies full "$SKDATA" "$WORK/full" "${PHOTOS[@]}"
FILES=()
for f in "$WORK"/images/*; do FILES+=("$f"); done
FULL_FILES=()
for f in "$WORK"/full/*; do FULL_FILES+=("$f"); done

step "dumping the pixels imgcls decodes from each file"
node --input-type=module -e '
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
const [root, out, ...files] = process.argv.slice(1);
const { decodeImage } = await import(pathToFileURL(path.join(root, "dist/image/decode.js")).href);
for (const file of files) {
  const img = await decodeImage(await readFile(file));
  if (img.width !== 224 || img.height !== 224) throw new Error(`${file} decoded to ${img.width}x${img.height}`);
  await writeFile(path.join(out, `${path.basename(file)}.rgb`), img.data);
}
' "$ROOT" "$WORK/pixels" "${FILES[@]}"

RUNS=() PILLOW_RUNS=() SHARP_RUNS=()
for arch in "${ARCH_LIST[@]}"; do
  model="$WORK/models/$arch"
  step "$arch: exporting (seed $SEED)"
  "$PY" scripts/export_torchvision.py "$arch" "$model" --seed "$SEED"

  step "$arch: imgcls predict (softmax, then --activation none)"
  common=(predict --json --top-k all --model "$model" --resize-mode none)
  # A failing image makes imgcls exit 1 with an error line in its JSON output;
  # carry on so that the comparison reports it against its file.
  node bin/imgcls.js "${common[@]}" "${FILES[@]}" >"$WORK/out/$arch.imgcls-scores.jsonl" ||
    step "imgcls predict exited with status $?"
  node bin/imgcls.js "${common[@]}" --activation none "${FILES[@]}" >"$WORK/out/$arch.imgcls-logits.jsonl" ||
    step "imgcls predict --activation none exited with status $?"

  step "$arch: PyTorch reference"
  "$PY" scripts/torch_reference.py "$arch" "$SEED" "${FILES[@]}" >"$WORK/out/$arch.torch.jsonl"

  RUNS+=(--run "$arch" "$WORK/out/$arch.imgcls-scores.jsonl" "$WORK/out/$arch.imgcls-logits.jsonl" "$WORK/out/$arch.torch.jsonl")

  # Full-size photos: the package's own preprocessing (no --resize-mode).
  for resampler in pillow sharp; do
    if [[ $resampler == pillow ]]; then flags=(--resampler pillow); else flags=(); fi
    step "$arch: imgcls predict ${flags[*]:-(default: sharp)} on full-size photos (softmax, then --activation none)"
    common=(predict --json --top-k all --model "$model" ${flags[@]+"${flags[@]}"})
    node bin/imgcls.js "${common[@]}" "${FULL_FILES[@]}" >"$WORK/out/$arch.full-$resampler-scores.jsonl" ||
      step "imgcls predict exited with status $?"
    node bin/imgcls.js "${common[@]}" --activation none "${FULL_FILES[@]}" >"$WORK/out/$arch.full-$resampler-logits.jsonl" ||
      step "imgcls predict --activation none exited with status $?"
  done

  step "$arch: PyTorch reference on full-size photos (PIL resize + crop)"
  "$PY" scripts/torch_reference.py --full "$arch" "$SEED" "${FULL_FILES[@]}" >"$WORK/out/$arch.full-torch.jsonl"

  PILLOW_RUNS+=(--run "$arch" "$WORK/out/$arch.full-pillow-scores.jsonl" "$WORK/out/$arch.full-pillow-logits.jsonl" "$WORK/out/$arch.full-torch.jsonl")
  SHARP_RUNS+=(--run "$arch" "$WORK/out/$arch.full-sharp-scores.jsonl" "$WORK/out/$arch.full-sharp-logits.jsonl" "$WORK/out/$arch.full-torch.jsonl")
done

# Every arch gets the same preprocessor_config.json, so one package's spec
# stands for all when dumping the preprocessed pixels.
first_model="$WORK/models/${ARCH_LIST[0]}"
for arch in "${ARCH_LIST[@]}"; do
  cmp -s "$first_model/preprocessor_config.json" "$WORK/models/$arch/preprocessor_config.json" ||
    { echo "$arch's preprocessor_config.json differs from ${ARCH_LIST[0]}'s" >&2; exit 1; }
done
step "dumping the 224x224 pixels imgcls's two preprocessing paths make from each full-size file"
# pillow: decodeImage at full size, then fitToInput (the Pillow port), as
# `--resampler pillow` does; sharp: decodeImage with the spec (resize and
# crop inside libvips), as the default path does.
node --input-type=module -e '
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
const [root, model, outPillow, outSharp, ...files] = process.argv.slice(1);
const load = (p) => import(pathToFileURL(path.join(root, p)).href);
const { decodeImage } = await load("dist/image/decode.js");
const { fitToInput } = await load("dist/image/preprocess.js");
const { readPackage } = await load("dist/model/package.js");
const spec = (await readPackage(model)).spec.preprocess;
for (const file of files) {
  const buf = await readFile(file);
  const pillow = fitToInput(await decodeImage(buf), spec);
  const viaSharp = await decodeImage(buf, { spec });
  for (const img of [pillow, viaSharp]) {
    if (img.width !== 224 || img.height !== 224) throw new Error(`${file} preprocessed to ${img.width}x${img.height}`);
  }
  await writeFile(path.join(outPillow, `${path.basename(file)}.rgb`), pillow.data);
  await writeFile(path.join(outSharp, `${path.basename(file)}.rgb`), viaSharp.data);
}
' "$ROOT" "$first_model" "$WORK/pixels-pillow" "$WORK/pixels-sharp" "${FULL_FILES[@]}"

step "comparing"
status=0
"$PY" scripts/compare_scores.py --title "Stage 1: 224x224 photos, imgcls --resize-mode none vs PyTorch (gated)" \
  --pixels-dir "$WORK/pixels" --pixels-desc "imgcls (sharp) and PIL decode" \
  --score-tol 1e-4 --logit-tol 1e-3 "${RUNS[@]}" || status=1
echo
"$PY" scripts/compare_scores.py --full \
  --title "Stage 2: full-size photos, imgcls --resampler pillow vs PyTorch on PIL resize(256, bilinear) + crop 224 (gated)" \
  --pixels-dir "$WORK/pixels-pillow" --pixels-desc "imgcls --resampler pillow and PIL preprocess" \
  --score-tol 1e-4 --logit-tol 1e-3 "${PILLOW_RUNS[@]}" || status=1
echo
"$PY" scripts/compare_scores.py --full --report-only \
  --title "Report (not gated): full-size photos, imgcls default (sharp resize) vs the same PIL reference" \
  --pixels-dir "$WORK/pixels-sharp" --pixels-desc "imgcls default (sharp) and PIL preprocess" \
  --score-tol 1e-4 --logit-tol 1e-3 "${SHARP_RUNS[@]}" || status=1
echo
if [[ $status == 0 ]]; then echo "ALL PASS (stages 1 and 2 within tolerance)"; else echo "FAILED (see above)"; fi
exit "$status"
