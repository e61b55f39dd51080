import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseSpatialLayer, layerForTile, layerHeights, spatialLayerCount } from './layers.js';

describe('simulcast layers', () => {
  it('counts spatial layers from a scalabilityMode', () => {
    expect(spatialLayerCount('L3T3')).toBe(3);
    expect(spatialLayerCount('S2T1')).toBe(2);
    expect(spatialLayerCount('L1T3')).toBe(1);
    expect(spatialLayerCount(undefined)).toBe(1);
    expect(spatialLayerCount('nonsense')).toBe(1);
  });

  it('works out each layer\'s height from the encodings\' scales', () => {
    const encodings = [{ scaleResolutionDownBy: 4 }, { scaleResolutionDownBy: 2 }, { scaleResolutionDownBy: 1 }];
    expect(layerHeights(encodings, 3, 360)).toEqual([90, 180, 360]);
    // As many layers as the consumer has, never more than there are encodings.
    expect(layerHeights(encodings, 2, 360)).toEqual([90, 180]);
    expect(layerHeights(encodings.slice(1), 3, 360)).toEqual([180, 360]);
    expect(layerHeights([], 3, 360)).toEqual([]);
  });

  it('falls back to halving per layer when a scale is missing or unusable', () => {
    expect(layerHeights([{}, {}, {}], 3, 360)).toEqual([90, 180, 360]);
    expect(layerHeights([{ scaleResolutionDownBy: 0 }, { scaleResolutionDownBy: -2 }], 2, 360)).toEqual([180, 360]);
    expect(layerHeights([{ scaleResolutionDownBy: Number.NaN }, { scaleResolutionDownBy: '1' }], 2, 360)).toEqual([180, 360]);
    expect(layerHeights([{ scaleResolutionDownBy: Number.POSITIVE_INFINITY }, { scaleResolutionDownBy: 1 }], 2, 360)).toEqual([180, 360]);
  });

  it('picks the smallest layer that covers the tile, else the tallest', () => {
    const heights = [90, 180, 360];
    expect(chooseSpatialLayer(heights, 0)).toBe(0);
    expect(chooseSpatialLayer(heights, 90)).toBe(0);
    expect(chooseSpatialLayer(heights, 91)).toBe(1);
    expect(chooseSpatialLayer(heights, 180)).toBe(1);
    expect(chooseSpatialLayer(heights, 181)).toBe(2);
    expect(chooseSpatialLayer(heights, 4320)).toBe(2);
    expect(chooseSpatialLayer([], 200)).toBe(0);
  });

  it('does not rely on the layers being in order', () => {
    expect(chooseSpatialLayer([360, 90, 180], 100)).toBe(2);
    expect(chooseSpatialLayer([360, 90, 180], 1000)).toBe(0);
    expect(chooseSpatialLayer([180, 180], 100)).toBe(0);
  });

  it('always answers a layer that exists, and one that covers the tile whenever one does', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4320 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 4320 }), (heights, tile) => {
        const chosen = chooseSpatialLayer(heights, tile);
        expect(chosen).toBeGreaterThanOrEqual(0);
        expect(chosen).toBeLessThan(heights.length);
        const height = heights[chosen]!;
        if (heights.some((h) => h >= tile)) {
          expect(height).toBeGreaterThanOrEqual(tile);
          expect(heights.filter((h) => h >= tile).every((h) => h >= height)).toBe(true);
        } else {
          expect(height).toBe(Math.max(...heights));
        }
      }),
    );
  });

  it('chooses a camera\'s layer for a tile from its encodings (a 360 px capture), none when there is no choice', () => {
    const three = [{ scaleResolutionDownBy: 4 }, { scaleResolutionDownBy: 2 }, { scaleResolutionDownBy: 1 }];
    expect(layerForTile(three, 3, 90)).toBe(0);
    expect(layerForTile(three, 3, 150)).toBe(1);
    expect(layerForTile(three, 3, 720)).toBe(2);
    // The web client's two layers (half and full size).
    expect(layerForTile([{ scaleResolutionDownBy: 2 }, { scaleResolutionDownBy: 1 }], 2, 120)).toBe(0);
    expect(layerForTile([{ scaleResolutionDownBy: 2 }, { scaleResolutionDownBy: 1 }], 2, 200)).toBe(1);
    // The tile's height unknown, or one layer: mediasoup's default stands.
    expect(layerForTile(three, 3, undefined)).toBeUndefined();
    expect(layerForTile([{}], 1, 90)).toBeUndefined();
    expect(layerForTile(three, 1, 90)).toBeUndefined();
  });
});
