import type { OutlinePoint } from "./glyph-table";

/**
 * How far a flattened curve may stray from the true one, in font units: 0.5 of 1000 to the em is
 * under 0.15 px at the largest size drawn (an em of about 290 px in a 512 px image).
 */
const FLATNESS = 0.5;

/** A closed polygon as [x0, y0, x1, y1, ...]; the last point joins the first. */
export type Polygon = number[];

const midpoint = (a: OutlinePoint, b: OutlinePoint): OutlinePoint => ({
  x: (a.x + b.x) / 2,
  y: (a.y + b.y) / 2,
  onCurve: true,
});

/** Appends the quadratic from `from` through control `control` to `to`, in as few lines as FLATNESS allows. */
function addQuadratic(polygon: Polygon, from: OutlinePoint, control: OutlinePoint, to: OutlinePoint) {
  // A quadratic split into n equal steps strays at most |P0 - 2 P1 + P2| / (8 n²) from the curve.
  const bend = Math.hypot(from.x - 2 * control.x + to.x, from.y - 2 * control.y + to.y);
  const steps = Math.max(1, Math.ceil(Math.sqrt(bend / (8 * FLATNESS))));
  for (let step = 1; step <= steps; step++) {
    const t = step / steps;
    const u = 1 - t;
    polygon.push(
      u * u * from.x + 2 * u * t * control.x + t * t * to.x,
      u * u * from.y + 2 * u * t * control.y + t * t * to.y,
    );
  }
}

/**
 * A TrueType contour as a polygon: on-curve points joined by lines, or by a quadratic through the
 * off-curve point between them; two off-curve points in a row imply an on-curve one halfway.
 */
export function flattenContour(points: readonly OutlinePoint[]): Polygon {
  const last = points.at(-1);
  const startIndex = points.findIndex((point) => point.onCurve);
  const start = startIndex >= 0 ? points[startIndex] : last && points[0] && midpoint(last, points[0]);
  if (!start) return [];
  // Every point after the start, then the start again, which closes the contour on an on-curve point.
  const rest =
    startIndex >= 0
      ? [...points.slice(startIndex + 1), ...points.slice(0, startIndex + 1)]
      : [...points, start];
  const polygon: Polygon = [start.x, start.y];
  let current = start;
  let control: OutlinePoint | undefined;
  for (const point of rest) {
    if (point.onCurve) {
      if (control) addQuadratic(polygon, current, control, point);
      else polygon.push(point.x, point.y);
      current = point;
      control = undefined;
    } else if (control) {
      const implied = midpoint(control, point);
      addQuadratic(polygon, current, control, implied);
      current = implied;
      control = point;
    } else {
      control = point;
    }
  }
  return polygon;
}

/** `area[index] += value`, as strict indexing (`noUncheckedIndexedAccess`) lets it be written. */
function addAt(area: Float32Array, index: number, value: number) {
  area[index] = (area[index] ?? 0) + value;
}

/**
 * Adds one edge's signed area to each pixel it passes, as font-rs does: a pixel's coverage is then
 * the running sum of its row up to it. Exact area coverage, one pass per edge, no sorting and no
 * scanline lists. y grows downwards; `area` is the image's rows end to end.
 * @see https://medium.com/@raphlinus/inside-the-fastest-font-renderer-in-the-world-75ae5270c445
 */
function addEdge(
  area: Float32Array,
  width: number,
  height: number,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
) {
  if (y0 === y1) return;
  const direction = y0 < y1 ? 1 : -1;
  const [topX, topY, bottomX, bottomY] = direction === 1 ? [x0, y0, x1, y1] : [x1, y1, x0, y0];
  const dxdy = (bottomX - topX) / (bottomY - topY);
  let x = topY < 0 ? topX - topY * dxdy : topX;
  for (let y = Math.max(0, Math.floor(topY)); y < Math.min(height, Math.ceil(bottomY)); y++) {
    const row = y * width;
    const dy = Math.min(y + 1, bottomY) - Math.max(y, topY);
    const nextX = x + dxdy * dy;
    const d = dy * direction;
    const left = Math.min(x, nextX);
    const right = Math.max(x, nextX);
    const leftColumn = Math.floor(left);
    const rightEdge = Math.ceil(right);
    if (rightEdge <= leftColumn + 1) {
      // Within one column: the area right of the edge's midpoint goes to the next pixel.
      const middle = 0.5 * (x + nextX) - leftColumn;
      addAt(area, row + leftColumn, d - d * middle);
      addAt(area, row + leftColumn + 1, d * middle);
    } else {
      const slope = 1 / (right - left);
      const leftFraction = left - leftColumn;
      const firstArea = 0.5 * slope * (1 - leftFraction) ** 2;
      const rightFraction = right - rightEdge + 1;
      const lastArea = 0.5 * slope * rightFraction ** 2;
      addAt(area, row + leftColumn, d * firstArea);
      if (rightEdge === leftColumn + 2) {
        addAt(area, row + leftColumn + 1, d * (1 - firstArea - lastArea));
      } else {
        const secondArea = slope * (1.5 - leftFraction);
        addAt(area, row + leftColumn + 1, d * (secondArea - firstArea));
        for (let column = leftColumn + 2; column < rightEdge - 1; column++) {
          addAt(area, row + column, d * slope);
        }
        const beforeLast = secondArea + (rightEdge - leftColumn - 3) * slope;
        addAt(area, row + rightEdge - 1, d * (1 - beforeLast - lastArea));
      }
      addAt(area, row + rightEdge, d * lastArea);
    }
    x = nextX;
  }
}

/**
 * Each pixel's share inside the polygons, in pixel coordinates (y down), non-zero fill, as a level
 * from 0 (outside) to `levels - 1` (inside; at most 256 levels). Overlapping contours of one glyph add
 * up past full and are clamped to it.
 */
export function coverageOf(
  polygons: readonly Polygon[],
  width: number,
  height: number,
  levels: number,
): Uint8Array {
  // Two more: an edge at the right border writes one past its row, and the last row has no next one.
  const area = new Float32Array(width * height + 2);
  for (const polygon of polygons) {
    for (let i = 0; i < polygon.length; i += 2) {
      const next = (i + 2) % polygon.length;
      addEdge(
        area,
        width,
        height,
        polygon[i] ?? 0,
        polygon[i + 1] ?? 0,
        polygon[next] ?? 0,
        polygon[next + 1] ?? 0,
      );
    }
  }
  const coverage = new Uint8Array(width * height);
  let sum = 0;
  for (let i = 0; i < coverage.length; i++) {
    sum += area[i] ?? 0;
    coverage[i] = Math.round(Math.min(1, Math.abs(sum)) * (levels - 1));
  }
  return coverage;
}
