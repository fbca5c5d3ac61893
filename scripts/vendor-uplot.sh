#!/usr/bin/env bash
# Vendors uPlot (the charts of the console's Analytics page) into host/admin/assets/vendor/.
#
#   scripts/vendor-uplot.sh
#
# Fetches exactly the pinned version with `npm pack` (the npm registry, nothing else), refuses the tarball unless
# its sha512 equals the pinned integrity (the value `npm view uplot@<version> dist.integrity` printed when it was
# pinned), then copies the minified IIFE build, its stylesheet and the licence. The copied files are committed:
# the console fetches nothing at run time and uses no CDN. To upgrade, change both pins, run this, and review the
# diff.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.6.32
INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="
DEST=host/admin/assets/vendor

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tarball=$(cd "$work" && npm pack --silent "uplot@$VERSION" | tail -n 1)
actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w 0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "vendor-uplot: integrity mismatch for uplot@$VERSION" >&2
  echo "  pinned  $INTEGRITY" >&2
  echo "  fetched $actual" >&2
  exit 1
fi
tar -xzf "$work/$tarball" -C "$work"
packed_version=$(node -p "require('$work/package/package.json').version")
if [ "$packed_version" != "$VERSION" ]; then
  echo "vendor-uplot: the tarball says version $packed_version, expected $VERSION" >&2
  exit 1
fi

mkdir -p "$DEST"
cp "$work/package/dist/uPlot.iife.min.js" "$DEST/uPlot.iife.min.js"
cp "$work/package/dist/uPlot.min.css" "$DEST/uPlot.min.css"
cp "$work/package/LICENSE" "$DEST/uPlot.LICENSE.txt"
echo "vendor-uplot: uplot@$VERSION ($INTEGRITY) copied to $DEST/"
