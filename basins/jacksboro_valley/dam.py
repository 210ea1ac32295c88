# Raise the dam cells of clip.tif and write dem.tif and reservoir_depth.tif
import numpy as np
from osgeo import gdal
from collections import deque
CREST = 370.0          # m, dam crest level
LEVEL = 368.0          # m, initial reservoir level (2 m below crest)
DAM_ROW = 80           # window row of the dam (source row 160)
src = gdal.Open('clip.tif'); bed = src.ReadAsArray().astype(np.float32)
gt = src.GetGeoTransform(); R, C = bed.shape
# dam: the contiguous run of cells below the crest in row DAM_ROW around the channel cell (col 76)
c0 = 76; L = c0; Rr = c0
while bed[DAM_ROW, L - 1] < CREST: L -= 1
while bed[DAM_ROW, Rr + 1] < CREST: Rr += 1
dam_cols = list(range(L, Rr + 1))
print('dam cells (row, col):', [(DAM_ROW, c) for c in dam_cols], 'original bed', bed[DAM_ROW, L:Rr + 1])
dem = bed.copy(); dem[DAM_ROW, L:Rr + 1] = CREST
# reservoir: 4-connected cells with bed < LEVEL, flood-filled from the cell just upstream of the dam
seed = (DAM_ROW - 1, int(np.argmin(dem[DAM_ROW - 1, L:Rr + 1])) + L)
wet = np.zeros(dem.shape, bool); q = deque([seed]); wet[seed] = True
while q:
    r, c = q.popleft()
    for rr, cc in ((r-1, c), (r+1, c), (r, c-1), (r, c+1)):
        if 0 <= rr < R and 0 <= cc < C and not wet[rr, cc] and dem[rr, cc] < LEVEL:
            wet[rr, cc] = True; q.append((rr, cc))
assert wet[DAM_ROW:, :].sum() == 0, 'reservoir leaks past the dam'
depth = np.where(wet, LEVEL - dem, 0.0).astype(np.float32)
rows, cols = np.nonzero(wet)
print('seed', seed, 'reservoir cells', wet.sum(), 'rows', rows.min(), '-', rows.max(), 'max depth', depth.max(),
      'volume m3', depth.sum() * gt[1] * -gt[5])
drv = gdal.GetDriverByName('GTiff')
for name, arr, nd in (('dem.tif', dem, -9999.0), ('reservoir_depth.tif', depth, -9999.0)):
    o = drv.Create(name, C, R, 1, gdal.GDT_Float32, ['COMPRESS=DEFLATE'])
    o.SetGeoTransform(gt); o.SetProjection(src.GetProjection())
    b = o.GetRasterBand(1); b.SetNoDataValue(nd); b.WriteArray(arr); o = None
for c in dam_cols:
    print('cell', (DAM_ROW, c), 'centre x=%.1f y=%.1f' % (gt[0] + (c + .5) * gt[1], gt[3] + (DAM_ROW + .5) * gt[5]))
