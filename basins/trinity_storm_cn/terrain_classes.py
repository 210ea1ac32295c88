"""Terrain classes for Trinity's curve numbers, made from the DEM alone (no land-cover or
soil data could be obtained for this project): writes landcover_terrain.tif beside this
script.

Classes (integer):
  1  channel:     cells draining ≥ 1 km² (the stream network of `rivertwin hydrology`)
  2  valley floor: slope < 2 %
  3  hillslope:   slope 2–8 %
  4  steep:       slope > 8 %
Slope: numpy's central-difference gradient of the DEM (90 m cells), nodata kept as nodata.

Inputs: ../trinity_storm/dem.tif and H/flow_accumulation_cells.tif from
`rivertwin hydrology basins/trinity_storm --out H`.
Run (any Python with numpy and rasterio, e.g. a throwaway venv from PyPI):
  python3 -m venv /tmp/v && /tmp/v/bin/pip install numpy rasterio
  /tmp/v/bin/python basins/trinity_storm_cn/terrain_classes.py H
"""
import sys
from pathlib import Path

import numpy as np
import rasterio

here = Path(__file__).resolve().parent
h = Path(sys.argv[1])
with rasterio.open(here.parent / "trinity_storm" / "dem.tif") as src:
    z = src.read(1).astype(float)
    profile = src.profile
    nodata = src.nodata
with rasterio.open(h / "flow_accumulation_cells.tif") as src:
    acc = src.read(1)
data = z != nodata
zz = np.where(data, z, np.nan)
gy, gx = np.gradient(zz, 90.0)
slope = np.hypot(gx, gy)
# Cells on the catchment's edge (a nodata neighbour) have no central difference: they
# are taken as flat (class 2), as the README says.
slope = np.where(np.isfinite(slope), slope, 0.0)
classes = np.full(z.shape, 255, dtype=np.uint8)
classes[data & (slope < 0.02)] = 2
classes[data & (slope >= 0.02) & (slope <= 0.08)] = 3
classes[data & (slope > 0.08)] = 4
classes[data & (acc >= 124)] = 1  # 124 cells of 90 m = 1 km²
profile.update(dtype="uint8", nodata=255, compress="deflate")
with rasterio.open(here / "landcover_terrain.tif", "w", **profile) as dst:
    dst.write(classes, 1)
for k in (1, 2, 3, 4):
    print(k, int((classes == k).sum()))
