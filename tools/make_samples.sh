#!/usr/bin/env bash
# Builds data/samples/ (the real Sentinel-1/2 samples shipped with rsd) from the shared originals:
# every GeoTIFF is rewritten by gdal_translate as DEFLATE with a predictor (2, horizontal
# differencing, for integers; 3, floating-point, for floats), band-interleaved (neighbouring
# pixels of one band compress better than the bands of one pixel), georeferencing, nodata and band
# descriptions kept. TerraMesh's S1RTC is stored as float64 in the original; it is shipped as
# float32, and the check at the end proves that conversion is exact up to float32 rounding (every
# value equals numpy's float32 cast of the original) and that every other file is bit-identical
# in its values. The JSON metadata of BigEarthNet is copied as is. data/samples/README.md (in git)
# is left alone. Nothing in rsd reads the originals at run time.
#
# usage: tools/make_samples.sh [SRC [DST]]   (defaults: ../shared/data and data/samples, relative
#        to the repository root). Needs gdal-bin and /usr/bin/python3 with python3-gdal and numpy.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$(cd "${1:-$ROOT/../shared/data}" && pwd)
DST=${2:-$ROOT/data/samples}
PY=/usr/bin/python3
LIMIT_MB=35
SETS=(eurosat-ms-subset terramind-s1s2 bigearthnet-s1s2 sen1floods11)

# GDAL must not write .aux.xml side files next to the (read-only) originals or the copies.
export GDAL_PAM_ENABLED=NO

command -v gdal_translate >/dev/null || { echo "make_samples: gdal_translate not found (apt install gdal-bin)" >&2; exit 1; }
"$PY" -c 'from osgeo import gdal; import numpy' 2>/dev/null ||
  { echo "make_samples: $PY needs python3-gdal and python3-numpy" >&2; exit 1; }
for s in "${SETS[@]}"; do
  [ -d "$SRC/$s" ] || { echo "make_samples: $SRC/$s not found" >&2; exit 1; }
done

# band_type FILE: GDAL's data type of the first band ("Int16", "Float64", ...).
band_type() {
  gdalinfo "$1" | sed -n 's/^Band 1 .*Type=\([A-Za-z0-9]*\).*/\1/p' | head -n 1
}

# convert IN OUT: one GeoTIFF; float64 becomes float32, the predictor follows the stored type.
convert() {
  local in=$1 out=$2 type ot=() predictor=2
  type=$(band_type "$in")
  case "$type" in
    Float64) ot=(-ot Float32); predictor=3 ;;
    Float32) predictor=3 ;;
    Byte | UInt16 | Int16 | UInt32 | Int32) predictor=2 ;;
    *) echo "make_samples: $in has unexpected type '$type'" >&2; exit 1 ;;
  esac
  mkdir -p "$(dirname "$out")"
  gdal_translate -q "${ot[@]}" -of GTiff -co COMPRESS=DEFLATE -co ZLEVEL=9 \
    -co PREDICTOR=$predictor -co INTERLEAVE=BAND "$in" "$out"
}

TMP=$(mktemp -d "${DST%/}.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

for s in "${SETS[@]}"; do
  (cd "$SRC" && find "$s" -type f | sort) | while read -r rel; do
    case "$rel" in
      *.tif | *.tiff) convert "$SRC/$rel" "$TMP/$rel" ;;
      *.json) mkdir -p "$(dirname "$TMP/$rel")"; cp "$SRC/$rel" "$TMP/$rel"; chmod 644 "$TMP/$rel" ;;
      *) echo "make_samples: skipping $rel (neither GeoTIFF nor JSON)" >&2 ;;
    esac
  done
done

# Verify every copy against its original before anything replaces the shipped folder.
"$PY" - "$SRC" "$TMP" <<'EOF'
import os, sys
import numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
src, dst = sys.argv[1], sys.argv[2]
checked = converted = 0
for base, _, files in os.walk(dst):
    for name in sorted(files):
        if not name.endswith(('.tif', '.tiff')):
            continue
        out = os.path.join(base, name)
        rel = os.path.relpath(out, dst)
        a, b = gdal.Open(os.path.join(src, rel)), gdal.Open(out)
        def fail(what):
            sys.exit(f"make_samples: {rel}: {what}")
        if (a.RasterXSize, a.RasterYSize, a.RasterCount) != (b.RasterXSize, b.RasterYSize, b.RasterCount):
            fail("size or band count changed")
        if a.GetGeoTransform() != b.GetGeoTransform():
            fail("geotransform changed")
        if not osr.SpatialReference(a.GetProjection()).IsSame(osr.SpatialReference(b.GetProjection())):
            fail("CRS changed")
        for i in range(1, a.RasterCount + 1):
            ba, bb = a.GetRasterBand(i), b.GetRasterBand(i)
            na, nb = ba.GetNoDataValue(), bb.GetNoDataValue()
            if not (na == nb or (na is not None and nb is not None and np.isnan(na) and np.isnan(nb))):
                fail(f"band {i}: nodata {na} became {nb}")
            if ba.GetDescription() != bb.GetDescription():
                fail(f"band {i}: description changed")
            x, y = ba.ReadAsArray(), bb.ReadAsArray()
            if x.dtype == np.float64:
                if y.dtype != np.float32:
                    fail(f"band {i}: float64 was not converted to float32")
                # Lossless up to float32 rounding: the copy is exactly numpy's round-to-nearest cast.
                if not np.array_equal(x.astype(np.float32), y, equal_nan=True):
                    fail(f"band {i}: float64 -> float32 is not the rounded value")
                err = np.nanmax(np.abs(x - y.astype(np.float64)) / np.maximum(np.abs(x), 1e-30))
                if err > 2.0 ** -24:
                    fail(f"band {i}: relative error {err} above float32's half ulp")
                converted += 1
            else:
                if x.dtype != y.dtype:
                    fail(f"band {i}: type {x.dtype} became {y.dtype}")
                if not np.array_equal(x, y, equal_nan=np.issubdtype(x.dtype, np.floating)):
                    fail(f"band {i}: values changed")
        checked += 1
print(f"make_samples: {checked} GeoTIFFs verified against the originals "
      f"({converted} float64 bands converted to float32, exact up to float32 rounding)")
EOF

mkdir -p "$DST"
for s in "${SETS[@]}"; do
  rm -rf "${DST:?}/$s"
  mv "$TMP/$s" "$DST/$s"
done
find "$DST" -type d -exec chmod 755 {} +

size_kb=$(du -sk "$DST" | cut -f1)
du -sh "$DST"
if [ "$size_kb" -gt $((LIMIT_MB * 1024)) ]; then
  echo "make_samples: $DST is $((size_kb / 1024)) MB, above the $LIMIT_MB MB limit" >&2
  exit 1
fi
