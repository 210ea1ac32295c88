"""Writes the illustrative rain frames of scenarios/radar_nowcast.toml: a convective storm
cell crossing the catchment from south-west to north-east, as a radar would see it
(scenarios/radar/, 5-minute frames for the first 1.5 h) and as a nowcast extrapolates
it from there (scenarios/nowcast/, 15-minute frames to 3 h).

Synthetic: no radar data for this basin are bundled. The frames are 1 km cells in the
DEM's CRS (EPSG:32614), upper-left corner (648000, 3615000), 20 x 17 cells, covering the
DEM; Float32 GeoTIFFs in mm/h, named <name>_<time_s>s.tif (time from the scenario's start).

The storm: a Gaussian cell (sigma 3.5 km) whose centre moves from (652000, 3600000) at
12 km/h towards the north-east (45 degrees); its peak intensity grows from 20 to 85 mm/h
at 1 h and decays to 10 mm/h at 3 h (piecewise linear). A frame holds the cell-average
rate at the middle of its interval (5 x 5 samples per 1 km cell). The nowcast keeps the
track but its peaks are 15 % lower, as extrapolation smooths a cell.

Run: /usr/bin/python3 radar_frames.py (Debian python3-gdal, python3-numpy).
"""
import os

import numpy as np
from osgeo import gdal, osr

X0, Y0, CELL, NX, NY = 648000.0, 3615000.0, 1000.0, 20, 17
SPEED = 12000.0 / 3600.0  # m/s
START = (652000.0, 3600000.0)
SIGMA = 3500.0


def peak(t):
    return float(np.interp(t, [0.0, 3600.0, 10800.0], [20.0, 85.0, 10.0]))


def frame(t, factor):
    cx = START[0] + SPEED * t * np.cos(np.pi / 4)
    cy = START[1] + SPEED * t * np.sin(np.pi / 4)
    sub = (np.arange(5) + 0.5) / 5.0
    out = np.zeros((NY, NX))
    for iy in range(NY):
        for ix in range(NX):
            xs = X0 + (ix + sub) * CELL
            ys = Y0 - (iy + sub) * CELL
            dx2 = (xs[None, :] - cx) ** 2
            dy2 = (ys[:, None] - cy) ** 2
            out[iy, ix] = np.mean(np.exp(-(dx2 + dy2) / (2 * SIGMA**2)))
    return out * peak(t) * factor


def write(path, data):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32614)
    ds = gdal.GetDriverByName("GTiff").Create(path, NX, NY, 1, gdal.GDT_Float32, ["COMPRESS=DEFLATE"])
    ds.SetGeoTransform([X0, CELL, 0.0, Y0, 0.0, -CELL])
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(-9999.0)
    band.SetUnitType("mm/h")
    band.WriteArray(data.astype(np.float32))
    ds = None


here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")
for folder, step, first, last, factor, name in [
    ("radar", 300, 0, 5100, 1.0, "radar"),
    ("nowcast", 900, 5400, 9900, 0.85, "nowcast"),
]:
    os.makedirs(os.path.join(here, folder), exist_ok=True)
    for t in range(first, last + 1, step):
        data = frame(t + step / 2.0, factor)
        write(os.path.join(here, folder, f"{name}_{t:05d}s.tif"), data)
        print(f"{folder}/{name}_{t:05d}s.tif peak {data.max():.1f} mm/h")
