#!/usr/bin/env python3
"""Write test/fixtures/resample-golden.json: Pillow's resize output on small
pseudo-random RGB images, the golden data for test/resample.test.ts.

The test itself needs no Python; rerun this only to add cases:

    python3 scripts/make-resample-golden.py

Every case is Image.resize((width, height), resample=...) on an 8-bit RGB
image, with no box and no reducing_gap, as torchvision and Hugging Face call it.
"""
import json
import os

import PIL
from PIL import Image

KERNELS = {
    'nearest': Image.NEAREST,
    'linear': Image.BILINEAR,
    'cubic': Image.BICUBIC,
    'lanczos3': Image.LANCZOS,
}


def pseudo_random_bytes(count, seed):
    """A fixed linear congruential generator, so the images never change."""
    state = seed
    out = bytearray()
    for _ in range(count):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        out.append((state >> 16) & 0xFF)
    return bytes(out)


# name: (width, height, seed)
SOURCES = {
    '7x5': (7, 5, 1),
    '3x2': (3, 2, 2),
    '8x6': (8, 6, 3),
    '40x30': (40, 30, 4),
}

# (source, output width, output height, what it covers), run with every kernel.
CASES = [
    ('7x5', 3, 2, 'downscale'),
    ('3x2', 7, 5, 'upscale'),
    ('7x5', 4, 5, 'width only'),
    ('7x5', 7, 3, 'height only'),
    ('3x2', 3, 9, 'height only, upscale'),
    # Nearest steps through source positions by a running sum; at 8 -> 7 one
    # of them lands exactly on a pixel boundary.
    ('8x6', 7, 10, 'boundary positions'),
    ('40x30', 17, 23, 'down in x, up in y'),
]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    sources = {}
    images = {}
    for name, (width, height, seed) in SOURCES.items():
        data = pseudo_random_bytes(width * height * 3, seed)
        sources[name] = {'width': width, 'height': height, 'data': list(data)}
        images[name] = Image.frombytes('RGB', (width, height), data)
    cases = []
    for source, width, height, what in CASES:
        for kernel, resample in KERNELS.items():
            out = images[source].resize((width, height), resample=resample)
            assert out.mode == 'RGB' and out.size == (width, height)
            cases.append({
                'name': f'{kernel} {source} -> {width}x{height} ({what})',
                'kernel': kernel,
                'source': source,
                'size': {'width': width, 'height': height},
                'expected': list(out.tobytes()),
            })
    golden = {
        'generator': 'scripts/make-resample-golden.py',
        'pillow': PIL.__version__,
        'sources': sources,
        'cases': cases,
    }
    path = os.path.join(root, 'test', 'fixtures', 'resample-golden.json')
    with open(path, 'w') as f:
        # One line per array keeps the file small and diffs readable.
        f.write('{\n')
        items = list(golden.items())
        for i, (key, value) in enumerate(items):
            sep = ',' if i < len(items) - 1 else ''
            if key == 'sources':
                f.write('  "sources": {\n')
                names = list(value)
                for j, name in enumerate(names):
                    s = ',' if j < len(names) - 1 else ''
                    f.write(f'    {json.dumps(name)}: {json.dumps(value[name])}{s}\n')
                f.write(f'  }}{sep}\n')
            elif key == 'cases':
                f.write('  "cases": [\n')
                for j, case in enumerate(value):
                    s = ',' if j < len(value) - 1 else ''
                    f.write(f'    {json.dumps(case)}{s}\n')
                f.write(f'  ]{sep}\n')
            else:
                f.write(f'  {json.dumps(key)}: {json.dumps(value)}{sep}\n')
        f.write('}\n')
    print(f'wrote {len(cases)} cases to {os.path.relpath(path, root)}')


if __name__ == '__main__':
    main()
