#!/usr/bin/env bash
# Draws the VBM365 Auth icons with ImageMagick 6 (`/usr/bin/convert`): a white shield with a key
# hole on a green rounded square (window / bundle icons), and the same glyph for the tray, plus an
# "attention" variant with an orange badge. Re-run after changing the design: `icons/draw.sh`.
set -euo pipefail
cd "$(dirname "$0")"
C=/usr/bin/convert
S=512
shield="path 'M 256,92 L 392,142 L 392,262 C 392,346 334,404 256,432 C 178,404 120,346 120,262 L 120,142 Z'"
keyhole="circle 256,238 256,278 polygon 236,262 276,262 290,356 222,356"

# App icon: rounded square with a vertical gradient, shield, key hole.
$C -size ${S}x${S} xc:none \
  \( -size ${S}x${S} gradient:'#19c25a-#007a3d' \) \
  \( -size ${S}x${S} xc:none -fill white -draw "roundrectangle 16,16 495,495 96,96" \) \
  -delete 0 -compose CopyOpacity -composite -compose Over \
  -fill white -draw "$shield" \
  -fill '#008f45' -draw "$keyhole" \
  -depth 8 PNG32:icon.png
for s in 32 128 256; do $C icon.png -resize ${s}x${s} -depth 8 "PNG32:tmp-$s.png"; done
mv tmp-32.png 32x32.png
mv tmp-128.png 128x128.png
mv tmp-256.png 128x128@2x.png
$C icon.png -define icon:auto-resize=256,128,64,48,32,16 icon.ico

# Tray: the shield alone (readable on light and dark panels thanks to a dark outline).
tray() {
  $C -size ${S}x${S} xc:none \
    -fill '#0a8f45' -stroke '#0b3d22' -strokewidth 18 -draw "$shield" -stroke none \
    -fill white -draw "$keyhole" \
    "$@"
}
tray -resize 64x64 -depth 8 PNG32:tray.png
tray -fill '#ff7a00' -stroke white -strokewidth 14 -draw "circle 392,392 392,500" -stroke none \
  -fill white -draw "roundrectangle 380,322 404,416 10,10 circle 392,448 392,462" \
  -resize 64x64 -depth 8 PNG32:tray-attention.png
