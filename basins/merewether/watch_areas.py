"""Make watch_areas.geojson from the building footprints and road polygon of this folder.

Each "yard" watch area is the ground within 5 m of a house's footprint, minus the footprint
itself (the footprints are raised 3 m in dem.tif and never flood): houses 019 (beside
gauge P0), 037 (beside P1) and 010 (beside P4), the places the June 2007 flood marks were
surveyed near. The "streets" area is the road polygon unchanged. Run with shapely 2:
    python3 watch_areas.py
"""
import json

from shapely.geometry import mapping, shape

CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32756"}}
YARD_M = 5.0

houses = {f["properties"]["id"]: shape(f["geometry"]) for f in json.load(open("buildings.geojson"))["features"]}
road = shape(json.load(open("road.geojson"))["features"][0]["geometry"])

features = []
for house, gauge in [("house019", "P0"), ("house037", "P1"), ("house010", "P4")]:
    footprint = houses[house]
    yard = footprint.buffer(YARD_M, join_style="mitre").difference(footprint)
    yard = yard.simplify(0.01)
    features.append({
        "type": "Feature",
        "properties": {"name": f"{house}_yard", "house": house, "near_gauge": gauge},
        "geometry": mapping(yard),
    })
features.append({
    "type": "Feature",
    "properties": {"name": "streets", "source": "road.geojson"},
    "geometry": mapping(road),
})

def rounded(obj):
    if isinstance(obj, float):
        return round(obj, 2)
    if isinstance(obj, (list, tuple)):
        return [rounded(v) for v in obj]
    if isinstance(obj, dict):
        return {k: rounded(v) for k, v in obj.items()}
    return obj

with open("watch_areas.geojson", "w") as f:
    json.dump({"type": "FeatureCollection", "crs": CRS, "features": rounded(features)}, f)
    f.write("\n")
print(len(features), "features")
