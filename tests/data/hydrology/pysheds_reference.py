"""Reference drainage of the bundled Trinity basin from pysheds, for
crates/basin/tests/hydrology.rs.

Inputs: the filled DEM and the catchment outlets that `rivertwin hydrology
basins/trinity_storm --out H` wrote (H/filled_dem_m.tif, H/catchments.csv). pysheds
computes D8 directions, flow accumulation and each outlet's catchment on that same filled
DEM. Outputs, beside this script:
  trinity_filled_dem_m.tif          the filled DEM the reference was made on (a copy)
  trinity_accumulation_pysheds.tif  pysheds' accumulation (cells, Float64, nodata 0)
  trinity_catchments_pysheds.csv    gauge, outlet row/col, pysheds' catchment cells and
                                    its accumulation at the outlet

pysheds 0.5's `catchment` leaves out the cells on the grid's outermost rows and columns
(they drain to the outlet by its own directions, and its own accumulation at the outlet
counts them); the test checks the difference is exactly those cells.

Made with pysheds 0.5, rasterio 1.4.4, numpy 2.3.5 (PyPI; pysheds 0.5 needs numpy < 2.4,
which removed numpy.in1d), in a throwaway venv:
  python3 -m venv /tmp/v && /tmp/v/bin/pip install pysheds==0.5 "numpy<2.4"
  /tmp/v/bin/python tests/data/hydrology/pysheds_reference.py H
"""
import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import rasterio
from pysheds.grid import Grid

here = Path(__file__).resolve().parent
h = Path(sys.argv[1])
filled = h / "filled_dem_m.tif"
shutil.copyfile(filled, here / "trinity_filled_dem_m.tif")

grid = Grid.from_raster(str(filled))
dem = grid.read_raster(str(filled))
nodata = np.asarray(dem) == dem.nodata
# pysheds' defaults: ESRI codes (dirmap 64 N, 128 NE, 1 E, 2 SE, 4 S, 8 SW, 16 W, 32 NW),
# -1 for a flat and -2 for a pit (no lower neighbour); those drain nowhere.
fdir = grid.flowdir(dem)
acc = np.asarray(grid.accumulation(fdir), dtype=np.float64)
acc[nodata] = 0.0

with rasterio.open(filled) as src:
    profile = src.profile
profile.update(dtype="float64", nodata=0.0, compress="deflate", tiled=False)
profile.pop("blockxsize", None)
profile.pop("blockysize", None)
with rasterio.open(here / "trinity_accumulation_pysheds.tif", "w", **profile) as dst:
    dst.write(acc, 1)

with open(h / "catchments.csv") as f, open(
    here / "trinity_catchments_pysheds.csv", "w", newline=""
) as out:
    w = csv.writer(out)
    w.writerow(["gauge", "outlet_row", "outlet_col", "catchment_cells", "accumulation_cells"])
    for row in csv.DictReader(f):
        r, c = int(row["outlet_row"]), int(row["outlet_col"])
        catch = grid.catchment(x=c, y=r, fdir=fdir, xytype="index")
        w.writerow(
            [row["gauge"], r, c, int(np.count_nonzero(np.asarray(catch))), int(acc[r, c])]
        )

print("accumulation: max", acc.max(), "cells", int(np.count_nonzero(acc)))
