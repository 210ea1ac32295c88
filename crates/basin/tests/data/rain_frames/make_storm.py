"""Writes storm.nc, a CF NetCDF of rain frames for crates/basin/tests/rainframes.rs, and
storm_expected.json, the rain volume those frames put on the test basin's DEM, computed
here independently of rivertwin (rectangle overlaps in numpy).

The frames are 100 m cells on a grid offset from the test DEM's 10 m cells (x 499 963 to
500 563, y 3 999 893 to 4 000 393, EPSG:32614), with the y axis ascending (south first),
as many models write it, and the time axis in minutes. A storm cell moves east.

Run: python make_storm.py (needs numpy and netCDF4 from PyPI). CI does not run it.
"""
import json

import numpy as np
from netCDF4 import Dataset

# The test DEM (crates/basin/tests/common/mod.rs): 40 x 30 cells of 10 m, upper-left
# corner (500000, 4000300), EPSG:32614, every cell active.
DEM_X0, DEM_Y1, DEM_CELL, DEM_COLS, DEM_ROWS = 500000.0, 4000300.0, 10.0, 40, 30
DEM_X1 = DEM_X0 + DEM_COLS * DEM_CELL
DEM_Y0 = DEM_Y1 - DEM_ROWS * DEM_CELL

CELL = 100.0
X0, Y0 = 499963.0, 3999893.0
NX, NY = 6, 5
TIMES_MIN = [0.0, 2.0, 4.0, 6.0]
INTERVAL_S = 120.0

xc = X0 + (np.arange(NX) + 0.5) * CELL
yc = Y0 + (np.arange(NY) + 0.5) * CELL  # ascending: row 0 is the south


def rate(k, iy, ix):
    """mm/h of frame k at (row iy from the south, column ix): a cell moving east."""
    centre = 1.0 + 1.2 * k
    return 80.0 * np.exp(-((ix - centre) ** 2) / 2.0) * (1.0 + 0.1 * iy)


rain = np.array([[[rate(k, iy, ix) for ix in range(NX)] for iy in range(NY)] for k in range(len(TIMES_MIN))])

with Dataset("storm.nc", "w", format="NETCDF4") as nc:
    nc.Conventions = "CF-1.8"
    nc.title = "Test rain frames (synthetic) for rivertwin"
    nc.createDimension("time", None)
    nc.createDimension("y", NY)
    nc.createDimension("x", NX)
    t = nc.createVariable("time", "f8", ("time",))
    t.units = "minutes since 2026-01-01 00:00:00"
    t.standard_name = "time"
    t[:] = TIMES_MIN
    x = nc.createVariable("x", "f8", ("x",))
    x.units = "m"
    x.standard_name = "projection_x_coordinate"
    x[:] = xc
    y = nc.createVariable("y", "f8", ("y",))
    y.units = "m"
    y.standard_name = "projection_y_coordinate"
    y[:] = yc
    crs = nc.createVariable("crs", "i4")
    crs.grid_mapping_name = "transverse_mercator"
    crs.longitude_of_central_meridian = -99.0
    crs.latitude_of_projection_origin = 0.0
    crs.scale_factor_at_central_meridian = 0.9996
    crs.false_easting = 500000.0
    crs.false_northing = 0.0
    crs.semi_major_axis = 6378137.0
    crs.inverse_flattening = 298.257223563
    crs.spatial_ref = (
        'PROJCS["WGS 84 / UTM zone 14N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
        'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
        'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]],'
        'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",-99],'
        'PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],'
        'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],'
        'AUTHORITY["EPSG","32614"]]'
    )
    r = nc.createVariable("rainfall_rate", "f4", ("time", "y", "x"), fill_value=-9999.0)
    r.units = "mm h-1"
    r.long_name = "rain intensity"
    r.grid_mapping = "crs"
    r[:] = rain.astype(np.float32)
    q = nc.createVariable("quality", "f4", ("time", "y", "x"))
    q.units = "1"
    q.grid_mapping = "crs"
    q[:] = np.ones_like(rain, dtype=np.float32)


def overlap(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


# Volume over the DEM: each frame cell's rate times the area it shares with the DEM,
# times how long the frame holds. The file stores float32: use those values.
stored = rain.astype(np.float32).astype(np.float64)
volume = 0.0
for k in range(len(TIMES_MIN)):
    for iy in range(NY):
        for ix in range(NX):
            area = overlap(X0 + ix * CELL, X0 + (ix + 1) * CELL, DEM_X0, DEM_X1) * overlap(
                Y0 + iy * CELL, Y0 + (iy + 1) * CELL, DEM_Y0, DEM_Y1
            )
            volume += stored[k, iy, ix] / 3.6e6 * INTERVAL_S * area

with open("storm_expected.json", "w") as f:
    json.dump(
        {
            "rain_volume_m3": volume,
            "frames": len(TIMES_MIN),
            "interval_s": INTERVAL_S,
            "made_by": "make_storm.py (numpy, netCDF4)",
        },
        f,
        indent=2,
    )
print("rain volume over the test DEM:", volume, "m3")
