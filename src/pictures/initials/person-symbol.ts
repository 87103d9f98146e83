import type { OutlinePoint } from "./glyph-table";

/**
 * An arc of an ellipse as TrueType points: one on-curve point every 45 degrees, with the quadratic
 * control point between them, which keeps a circle within 0.1% of its radius.
 */
function ellipseArc(
  centreX: number,
  centreY: number,
  radiusX: number,
  radiusY: number,
  fromDegrees: number,
  eighths: number,
): OutlinePoint[] {
  const controlReach = 1 / Math.cos(Math.PI / 8);
  const at = (degrees: number, reach: number, onCurve: boolean): OutlinePoint => ({
    x: Math.round(centreX + radiusX * reach * Math.cos((degrees * Math.PI) / 180)),
    y: Math.round(centreY + radiusY * reach * Math.sin((degrees * Math.PI) / 180)),
    onCurve,
  });
  const points = [at(fromDegrees, 1, true)];
  for (let step = 0; step < eighths; step++) {
    const degrees = fromDegrees + 45 * step;
    points.push(at(degrees + 22.5, controlReach, false), at(degrees + 45, 1, true));
  }
  return points;
}

/**
 * The neutral symbol drawn when no letter can be (no name, or a letter the glyph table lacks): a
 * head over shoulders, in font units (y up, the shoulders' base at 0), so it is placed and sized like
 * a glyph. A full circle's last point is its first again, so the contour drops it.
 */
export const PERSON_SYMBOL: readonly (readonly OutlinePoint[])[] = [
  ellipseArc(0, 570, 180, 180, 0, 8).slice(0, -1),
  ellipseArc(0, 0, 400, 330, 0, 4),
];
