"""Checks behind basin.toml and the scenarios of the Cairns basin (writes nothing).

Run in this folder:  python3 checks.py [path/to/gauges.csv]
Prints the grid, the share of sea cells (elevation < 0 m) on each edge, the sea
stretch of the south edge, the cell under each gauge and the illustrative tide +
surge series used in scenarios/*.toml. Needs python3-gdal and python3-numpy.
"""
import csv
import math
import sys

import numpy as np
from osgeo import gdal

GAUGES = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/cairns_topobathy/gauges.csv"

ds = gdal.Open("dem.tif")
z = ds.GetRasterBand(1).ReadAsArray()
nodata = ds.GetRasterBand(1).GetNoDataValue()
x0, dx, _, y0, _, dy = ds.GetGeoTransform()
h, w = z.shape
cx = lambda c: x0 + (c + 0.5) * dx
cy = lambda r: y0 + (r + 0.5) * dy

print(f"grid {w} cols x {h} rows, cell {dx:.4f} m, nodata cells {(z == nodata).sum()}")
print(f"cells < 0 m: {(z < 0).sum()}, = 0 m: {(z == 0).sum()}, > 0 m: {(z > 0).sum()}, "
      f"min {z.min():.1f}, max {z.max():.1f}")

for name, edge in [("north", z[0]), ("south", z[-1]), ("west", z[:, 0]), ("east", z[:, -1])]:
    print(f"{name:5s} edge: {(edge < 0).sum():3d}/{edge.size} cells below 0 m ({100 * (edge < 0).mean():.1f} %)")

sea = np.flatnonzero(z[-1] < 0)
assert sea.max() - sea.min() + 1 == sea.size, "south sea stretch is not contiguous"
print(f"south sea stretch: cols {sea.min()}-{sea.max()}, "
      f"from [{cx(sea.min()):.1f}, {cy(h - 1):.1f}] to [{cx(sea.max()):.1f}, {cy(h - 1):.1f}]")

for g in csv.DictReader(open(GAUGES)):
    x, y = float(g["easting"]), float(g["northing"])
    c, r = int((x - x0) // dx), int((y - y0) // dy)
    inside = 0 <= r < h and 0 <= c < w and z[r, c] != nodata
    print(f"{g['name']:16s} x {x:.2f} y {y:.2f} -> row {r} col {c} "
          f"z {z[r, c] if inside else 'outside':>6} inside {inside}")

T = 12.42 * 3600.0  # M2 period
series = []
for k in range(25):
    t = 1800 * k
    tide = 1.2 * math.sin(2 * math.pi * t / T)
    surge = 1.5 * math.exp(-(((t - 21600) / 9000) ** 2))
    series.append(f"[{t}, {tide + surge:.2f}]")
print("level_m = [" + ", ".join(series) + "]")
