#!/usr/bin/python3
"""SYNTHETIC paired S1/S2 GeoTIFFs for benchmarks/loader_bench --geotiffs: random values, not imagery.

Writes OUT/s2/synthetic_NNNNNN.tif (13 bands B01..B08, B8A, B09..B12, uint16 digital numbers uniform
in [0, 10000)), OUT/s1/synthetic_NNNNNN.tif (VV, VH, float32 dB uniform in [-25, 0]), both SIZE x
SIZE on one made-up UTM grid, OUT/manifest.csv (the CSV layout of data/layouts.h) naming the pairs
and their bands, and the marker file OUT/SYNTHETIC: 15 bands per sample, as loader_bench's shards.
Compression as the shipped samples (DEFLATE with a predictor) unless --compress NONE. Needs GDAL's
Python bindings and NumPy: run it with /usr/bin/python3.
"""
import argparse
import os

import numpy as np
from osgeo import gdal, osr

S2_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
S1_BANDS = ["VV", "VH"]


def write(path, data, gdal_type, predictor, compress, srs_wkt, geotransform):
    bands, h, w = data.shape
    options = ["TILED=NO", "INTERLEAVE=BAND"]
    if compress != "NONE":
        options += [f"COMPRESS={compress}", f"PREDICTOR={predictor}"]
    ds = gdal.GetDriverByName("GTiff").Create(path, w, h, bands, gdal_type, options)
    ds.SetProjection(srs_wkt)
    ds.SetGeoTransform(geotransform)
    for b in range(bands):
        ds.GetRasterBand(b + 1).WriteArray(data[b])
    ds.FlushCache()
    ds = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compress", default="DEFLATE", help="DEFLATE, LZW or NONE")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "s1"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "s2"), exist_ok=True)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    rng = np.random.default_rng(args.seed)
    n = args.size
    rows = []
    for i in range(args.samples):
        name = f"synthetic_{i:06d}.tif"
        gt = (500000.0 + 10.0 * n * i, 10.0, 0.0, 4500000.0, 0.0, -10.0)
        s2 = rng.integers(0, 10000, size=(len(S2_BANDS), n, n), dtype=np.uint16)
        s1 = rng.uniform(-25.0, 0.0, size=(len(S1_BANDS), n, n)).astype(np.float32)
        write(os.path.join(args.out, "s2", name), s2, gdal.GDT_UInt16, 2, args.compress, srs.ExportToWkt(), gt)
        write(os.path.join(args.out, "s1", name), s1, gdal.GDT_Float32, 3, args.compress, srs.ExportToWkt(), gt)
        rows.append(f"s1/{name},s2/{name}")
    with open(os.path.join(args.out, "SYNTHETIC"), "w") as f:  # loader_bench labels the source by it
        f.write("random values made by benchmarks/make_synthetic_geotiffs.py, not imagery\n")
    with open(os.path.join(args.out, "manifest.csv"), "w") as f:
        f.write("# SYNTHETIC random data made by benchmarks/make_synthetic_geotiffs.py: not imagery\n")
        f.write("# s1_bands: " + " ".join(S1_BANDS) + "\n")
        f.write("# s2_bands: " + " ".join(S2_BANDS) + "\n")
        f.write("s1,s2\n")
        f.write("\n".join(rows) + "\n")
    print(f"wrote {args.samples} SYNTHETIC S1/S2 pairs ({len(S2_BANDS)} + {len(S1_BANDS)} bands, {n} x {n}) "
          f"and {os.path.join(args.out, 'manifest.csv')}")


if __name__ == "__main__":
    main()
