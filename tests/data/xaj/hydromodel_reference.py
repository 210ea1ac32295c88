"""Reference runoff of the Xinanjiang model from hydromodel (the open implementation of
Ouyang Wenyu et al., PyPI `hydromodel` 0.4.0, file hydromodel/models/xaj.py), for
crates/basin/tests/xaj.rs.

Its `generation` (three-layer evaporation, saturation excess) and `sources` (free-water
separation, book "HF") are called step by step on a synthetic daily series (the rain and
evaporation below, 730 days), with the parameters and the initial state of the test, and
with IM = 0 (hydromodel lets the impervious share's water into the soil as well, so its
balance does not close for IM > 0). Output: reference.csv beside this script, one row per
day: p, e_input, e, r, rs, ri, rg (mm).

Made in a throwaway venv (models/xaj.py imports numpy, numba and scipy; the script stands in
for the package modules it does not use):
  python3 -m venv /tmp/v && /tmp/v/bin/pip install numpy==2.3.5 numba scipy
  /tmp/v/bin/pip download --no-deps hydromodel==0.4.0 -d /tmp/hm && (cd /tmp/hm && unzip -o hydromodel-0.4.0-py3-none-any.whl)
  /tmp/v/bin/python tests/data/xaj/hydromodel_reference.py /tmp/hm
"""
import csv
import importlib.util
import math
import sys
import types
from pathlib import Path

import numpy as np

root = Path(sys.argv[1])
# Load models/xaj.py alone, with stand-ins for the package modules it imports for other
# model variants (parameter tables, the unit-hydrograph kernel: unused by these calls).
for name in ["hydromodel", "hydromodel.models"]:
    sys.modules.setdefault(name, types.ModuleType(name))
for mod, attrs in {
    "hydromodel.models.model_config": ["get_model_param_config"],
    "hydromodel.models.unit_hydrograph": ["uh_conv"],
    "hydromodel.models.param_utils": ["process_parameters"],
}.items():
    m = types.ModuleType(mod)
    for attr in attrs:
        setattr(m, attr, lambda *a, **k: None)
    sys.modules[mod] = m
spec = importlib.util.spec_from_file_location("xaj_ref", root / "hydromodel/models/xaj.py")
xaj = importlib.util.module_from_spec(spec)
spec.loader.exec_module(xaj)

# The test's parameters (crates/basin/tests/xaj.rs), IM = 0.
P = dict(k=0.9, b=0.3, im=0.0, um=15.0, lm=75.0, dm=40.0, c=0.15, sm=30.0, ex=1.2,
         ki=0.35, kg=0.3)
a = lambda v: np.array([v], dtype=float)


def forcing(day):
    if day % 37 == 0:
        p = 120.0
    elif day % 37 == 1:
        p = 60.0
    elif 2 <= day % 37 <= 4:
        p = 15.0
    elif day % 5 == 0:
        p = 3.0
    else:
        p = 0.0
    e = 2.0 + 3.0 * abs(math.sin(day * 2.0 * math.pi / 365.0))
    return p, e


wu, wl, wd = a(0.6 * P["um"]), a(0.6 * P["lm"]), a(0.6 * P["dm"])
s, fr = a(0.5 * P["sm"]), a(0.1)
out = Path(__file__).resolve().parent / "reference.csv"
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["day", "p", "e_input", "e", "r", "rs", "ri", "rg"])
    for day in range(730):
        p, e_in = forcing(day)
        pe_in = np.array([[p, e_in]])
        (r, rim, e, pe), (wu, wl, wd) = xaj.generation(
            pe_in, a(P["k"]), a(P["b"]), a(P["im"]), a(P["um"]), a(P["lm"]), a(P["dm"]),
            a(P["c"]), wu, wl, wd,
        )
        (rs, ri, rg), (s, fr) = xaj.sources(
            pe, r, a(P["sm"]), a(P["ex"]), a(P["ki"]), a(P["kg"]), s, fr, book="HF"
        )
        w.writerow([day, p, e_in] + [f"{float(v[0]):.10g}" for v in (e, r, rs, ri, rg)])
print("wrote", out)
