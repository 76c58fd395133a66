#!/usr/bin/env bash
# Install Debian's Fashion-MNIST package if it is missing: as root, through sudo, or say what to run.
set -euo pipefail
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && exit 0
install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist)
update=(env DEBIAN_FRONTEND=noninteractive apt-get update -qq)
if [ "$(id -u)" -eq 0 ]; then
  "${update[@]}" && "${install[@]}"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo "${update[@]}" && sudo "${install[@]}"
else
  echo "Fashion-MNIST is not installed and this user cannot install packages. Run once:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist" >&2
  exit 1
fi
