/**
 * Where an image goes on its way to the model input: the size to resize to and
 * the centre-crop rectangle. A pure function of the source size and the spec,
 * shared by the sharp decode path and the pure-JS preprocessing path, so both
 * agree on geometry.
 */
import type { PreprocessSpec, Size } from '../model/spec.ts';
import type { Rect } from './pixels.ts';

export interface GeometryPlan {
  /** The size after resizing (equal to the source when the spec does not resize). */
  resized: Size;
  /** The crop applied after resizing, or null. */
  crop: Rect | null;
  /** The final spatial size fed to the model. */
  output: Size;
}

export function planGeometry(source: Size, spec: PreprocessSpec): GeometryPlan {
  const resized = resizedSize(source, spec);
  if (!spec.crop) return { resized, crop: null, output: resized };
  const { width, height } = spec.crop;
  // Floor the offset, as Hugging Face's center_crop does; a crop larger than
  // the image gets a negative offset and is padded with zeros.
  const crop: Rect = {
    left: Math.floor((resized.width - width) / 2),
    top: Math.floor((resized.height - height) / 2),
    width,
    height,
  };
  const identity = crop.left === 0 && crop.top === 0 && width === resized.width && height === resized.height;
  return { resized, crop: identity ? null : crop, output: { width, height } };
}

function resizedSize(source: Size, spec: PreprocessSpec): Size {
  const r = spec.resize;
  switch (r.mode) {
    case 'none':
      return source;
    case 'stretch':
      return r.size;
    case 'shorter': {
      const short = Math.min(source.width, source.height);
      const long = Math.max(source.width, source.height);
      // int(size * long / short), as torchvision and Hugging Face compute it.
      const newLong = Math.max(1, Math.floor((r.shortestEdge * long) / short));
      return source.width <= source.height
        ? { width: r.shortestEdge, height: newLong }
        : { width: newLong, height: r.shortestEdge };
    }
  }
}
