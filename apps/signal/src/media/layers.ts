import { CAMERA_CAPTURE } from '@group-room/shared';
import { parseScalabilityMode } from 'mediasoup';

/*
 * Which simulcast layer a receiver needs: the smallest whose height covers the tile the video
 * is shown in. The server never sees frames, so layer heights come from what the sender
 * declared (each encoding's scaleResolutionDownBy) and the capture size clients use.
 */

/** How many spatial layers a consumer's scalabilityMode ('L3T3', 'S3T3') gives it; 1 if none. */
export function spatialLayerCount(scalabilityMode: string | undefined): number {
  return parseScalabilityMode(scalabilityMode).spatialLayers;
}

/** An encoding's scaleResolutionDownBy, if it is a usable one (the sender's input: mediasoup keeps it unchecked). */
function scaleOf(encoding: object): number | undefined {
  const scale: unknown = 'scaleResolutionDownBy' in encoding ? encoding.scaleResolutionDownBy : undefined;
  return typeof scale === 'number' && Number.isFinite(scale) && scale >= 1 ? scale : undefined;
}

/**
 * Each of `layers` spatial layers' height, lowest layer first, for a full-size capture
 * `fullHeight` pixels tall. An encoding without a usable scale gets the browsers' default:
 * each layer half the height of the next.
 */
export function layerHeights(encodings: readonly object[], layers: number, fullHeight: number): number[] {
  const count = Math.max(0, Math.min(layers, encodings.length));
  return encodings.slice(0, count).map((encoding, index) => {
    const scale = scaleOf(encoding) ?? 2 ** (count - 1 - index);
    return Math.round(fullHeight / scale);
  });
}

/**
 * The spatial layer to send to a tile `tileHeight` device pixels tall: the smallest layer at
 * least that tall, or the tallest when none is (ties: the lower index). 0 without layers.
 */
export function chooseSpatialLayer(heights: readonly number[], tileHeight: number): number {
  let covering: number | undefined;
  let tallest = 0;
  heights.forEach((height, index) => {
    if (height > (heights[tallest] ?? 0)) tallest = index;
    if (height >= tileHeight && (covering === undefined || height < (heights[covering] ?? 0))) covering = index;
  });
  return covering ?? tallest;
}

/**
 * The spatial layer a video of `layers` layers (described by its sender's `encodings`) is to
 * be sent in to a tile `tileHeight` device pixels tall; undefined when there is no choice to
 * make (one layer, or the tile's height unknown: mediasoup's default, the top layer, stands).
 */
export function layerForTile(encodings: readonly object[], layers: number, tileHeight: number | undefined): number | undefined {
  const heights = layerHeights(encodings, layers, CAMERA_CAPTURE.height);
  return heights.length < 2 || tileHeight === undefined ? undefined : chooseSpatialLayer(heights, tileHeight);
}
