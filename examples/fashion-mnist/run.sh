#!/bin/sh
# Fashion-MNIST with imgcls, from a fresh clone:
#   sudo apt-get install dataset-fashion-mnist
#   npm install
#   sh examples/fashion-mnist/run.sh            # extra flags go to `imgcls train`
# Writes the dataset to examples/fashion-mnist/data/ and the model (with
# report.html) to examples/fashion-mnist/runs/model/.
set -eu
cd "$(dirname "$0")/../.."
here=examples/fashion-mnist
npx tsx "$here/prepare.ts" --out "$here/data"
node bin/imgcls.js train "$here/data" --out "$here/runs/model" --seed 0 "$@"
node bin/imgcls.js evaluate --model "$here/runs/model" "$here/data" --split test
