"""What a first-order scheme can reach on the sloping dam break when the bed is not the
problem: the same first-order finite volumes as rivertwin's fv1 (HLL fluxes with the
two-rarefaction and dry-bed wave speeds, forward Euler, CFL 0.5, walls upstream, free
outflow downstream) on a flat bed, with the slope's pull added as an exact body force
g·S·h per cell instead of a sloping bed. The exact solution is the same (the Ritter
solution in the frame sliding at g·S·t), so what is left is the scheme's own numerical
diffusion, which grows with the speed of the layer (up to g·S·T = 39 m/s at 20 %).

Set-up as in `sloping_run` (crates/validate/src/cases.rs): 2100 cells of 1 m, reservoir
1500 m of 1 m depth, T = 20 s, L1 from 50 m above the head of the rarefaction, front at
h = 0.01 m. At S = 0 this reproduces rivertwin's fv1 (L1 1.40 %, front −9.4 %).

Run: python3 -m venv /tmp/v && /tmp/v/bin/pip install numpy && /tmp/v/bin/python
first_order_floor.py. Output (numpy 2, 2026-12):

    S =  0 %: L1 1.40 %, front -9.4 %
    S =  1 %: L1 1.28 %, front -8.4 %
    S =  5 %: L1 1.67 %, front -7.4 %
    S = 20 %: L1 4.35 %, front -5.3 %
"""

import numpy as np

G = 9.81


def fluxes(h, q):
    """HLL mass and momentum fluxes between cells i and i + 1 (no bed)."""
    hl, hr, ql, qr = h[:-1], h[1:], q[:-1], q[1:]
    ul = np.where(hl > 1e-6, ql / np.maximum(hl, 1e-300), 0.0)
    ur = np.where(hr > 1e-6, qr / np.maximum(hr, 1e-300), 0.0)
    cl, cr = np.sqrt(G * hl), np.sqrt(G * hr)
    u_star = 0.5 * (ul + ur) + cl - cr
    c_star = 0.5 * (cl + cr) + 0.25 * (ul - ur)
    sl = np.where(hl <= 0, ur - 2 * cr, np.where(hr <= 0, ul - cl, np.minimum(ul - cl, u_star - c_star)))
    sr = np.where(hl <= 0, ur + cr, np.where(hr <= 0, ul + 2 * cl, np.maximum(ur + cr, u_star + c_star)))
    sm, sp = np.minimum(sl, 0.0), np.maximum(sr, 0.0)
    span = np.where(sp - sm > 1e-20, sp - sm, np.inf)
    ql, qr = hl * ul, hr * ur
    fl, fr = ql * ul + 0.5 * G * hl**2, qr * ur + 0.5 * G * hr**2
    mass = (sp * ql - sm * qr + sm * sp * (hr - hl)) / span
    momentum = (sp * fl - sm * fr + sm * sp * (qr - ql)) / span
    return mass, momentum


def run(slope, dx=1.0, h0=1.0, reservoir=1500.0, length=2100.0, t_end=20.0):
    n = int(round(length / dx))
    x = (np.arange(n) + 0.5) * dx
    h = np.where(x < reservoir, h0, 0.0)
    q = np.zeros(n)
    t = 0.0
    while t < t_end - 1e-12:
        u = np.where(h > 1e-6, q / np.maximum(h, 1e-300), 0.0)
        dt = min(0.5 * dx / np.max(np.abs(u) + np.sqrt(G * h)), t_end - t)
        # Ghost cells: a wall upstream (mirrored), free outflow downstream (copied).
        hg = np.concatenate([[h[0]], h, [h[-1]]])
        qg = np.concatenate([[-q[0]], q, [q[-1]]])
        mass, momentum = fluxes(hg, qg)
        mass[0] = 0.0
        pull = G * slope * h
        h = np.maximum(h - dt / dx * (mass[1:] - mass[:-1]), 0.0)
        q = q - dt / dx * (momentum[1:] - momentum[:-1]) + dt * pull
        t += dt
    c0 = np.sqrt(G * h0)
    shift = 0.5 * G * slope * t_end**2
    xi = x - reservoir - shift
    exact = np.where(xi < -c0 * t_end, h0, np.where(xi < 2 * c0 * t_end, (2 * c0 - xi / t_end) ** 2 / (9 * G), 0.0))
    region = x > reservoir + shift - c0 * t_end - 50.0
    l1 = np.abs(h - exact)[region].sum() / exact[region].sum()
    front = x[h >= 0.01 * h0].max()
    front_exact = reservoir + shift + 1.7 * c0 * t_end
    return l1, (front - reservoir) / (front_exact - reservoir) - 1.0


if __name__ == "__main__":
    for s in [0.0, 0.01, 0.05, 0.2]:
        l1, front = run(s)
        print(f"S = {s * 100:>2.0f} %: L1 {l1 * 100:.2f} %, front {front * 100:+.1f} %")
