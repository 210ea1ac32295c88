# Delineate the catchment of one outlet cell of dem_utm14n_90m.tif (D8 directions from a priority-flood
# fill seeded at the grid edge and at nodata), clip the window that holds it and write dem.tif with every
# cell outside the catchment set to nodata (-9999).
import heapq, sys
import numpy as np
from osgeo import gdal
SRC = sys.argv[1]
OUTLET = (209, 254)                     # source (row, col) of the outlet
ROW0, COL0, NROWS, NCOLS = 209, 82, 161, 190   # window (the catchment's bounding box)
src = gdal.Open(SRC); z = src.ReadAsArray().astype(np.float64); gt = src.GetGeoTransform()
R, C = z.shape; valid = z != -9999
NB = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
down = -np.ones((R, C, 2), int); seen = ~valid.copy(); heap = []
for r in range(R):
    for c in range(C):
        if valid[r, c] and (r in (0, R - 1) or c in (0, C - 1) or any(
                not valid[min(max(r + dr, 0), R - 1), min(max(c + dc, 0), C - 1)] for dr, dc in NB)):
            heapq.heappush(heap, (z[r, c], r, c)); seen[r, c] = True
while heap:
    h, r, c = heapq.heappop(heap)
    for dr, dc in NB:
        rr, cc = r + dr, c + dc
        if 0 <= rr < R and 0 <= cc < C and not seen[rr, cc]:
            seen[rr, cc] = True; down[rr, cc] = (r, c)
            heapq.heappush(heap, (max(z[rr, cc], h + 1e-3), rr, cc))
up = {}
for r in range(R):
    for c in range(C):
        if down[r, c, 0] >= 0:
            up.setdefault((int(down[r, c, 0]), int(down[r, c, 1])), []).append((r, c))
inside = np.zeros((R, C), bool); stack = [OUTLET]
while stack:
    q = stack.pop(); inside[q] = True; stack += up.get(q, [])
rs, cs = np.nonzero(inside)
print('catchment cells', inside.sum(), 'rows', rs.min(), rs.max(), 'cols', cs.min(), cs.max())
assert rs.min() >= ROW0 and rs.max() < ROW0 + NROWS and cs.min() >= COL0 and cs.max() < COL0 + NCOLS
w = np.where(inside, z, -9999.0)[ROW0:ROW0 + NROWS, COL0:COL0 + NCOLS].astype(np.float32)
o = gdal.GetDriverByName('GTiff').Create('dem.tif', NCOLS, NROWS, 1, gdal.GDT_Float32, ['COMPRESS=DEFLATE'])
o.SetGeoTransform((gt[0] + COL0 * gt[1], gt[1], 0, gt[3] + ROW0 * gt[5], 0, gt[5]))
o.SetProjection(src.GetProjection()); b = o.GetRasterBand(1); b.SetNoDataValue(-9999); b.WriteArray(w); o = None
# main drainage line: from the outlet up the branch of largest catchment
def size(p):
    n = 0; st = [p]
    while st:
        q = st.pop(); n += 1; st += up.get(q, [])
    return n
p = OUTLET; k = 0
while p in up:
    if k % 15 == 0:
        print('main line', p, 'window', (p[0] - ROW0, p[1] - COL0), 'bed %.1f' % z[p], 'upstream cells', size(p),
              'x %.1f y %.1f' % (gt[0] + (p[1] + .5) * gt[1], gt[3] + (p[0] + .5) * gt[5]))
    p = max(up[p], key=size); k += 1
