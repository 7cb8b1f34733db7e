// BlurHash decoding (https://blurha.sh, the algorithm of the reference implementations): a post's
// `placeholder` is a few dozen characters describing a blurred image, painted while the photo loads.

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~';

function base83(text) {
  let value = 0;
  for (const ch of text) {
    const digit = DIGITS.indexOf(ch);
    if (digit < 0) throw new Error(`not a BlurHash character: ${ch}`);
    value = value * 83 + digit;
  }
  return value;
}

const toLinear = (v) => { const x = v / 255; return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
const toSrgb = (v) => {
  const x = Math.min(1, Math.max(0, v));
  return Math.trunc((x <= 0.0031308 ? x * 12.92 : 1.055 * x ** (1 / 2.4) - 0.055) * 255 + 0.5);
};
const signPow = (v, e) => Math.sign(v) * Math.abs(v) ** e;

/** RGBA pixels (Uint8ClampedArray, width*height*4) of the image `hash` describes. */
export function decode(hash, width, height, punch = 1) {
  if (typeof hash !== 'string' || hash.length < 6) throw new Error('BlurHash too short');
  const sizeFlag = base83(hash[0]);
  const nx = (sizeFlag % 9) + 1;
  const ny = Math.floor(sizeFlag / 9) + 1;
  if (hash.length !== 4 + 2 * nx * ny) throw new Error('BlurHash length does not match its size');
  const maxAc = ((base83(hash[1]) + 1) / 166) * punch;
  const dc = base83(hash.slice(2, 6));
  const colors = [[toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]];
  for (let i = 1; i < nx * ny; i++) {
    const ac = base83(hash.slice(4 + i * 2, 6 + i * 2));
    const q = [Math.floor(ac / 361), Math.floor(ac / 19) % 19, ac % 19];
    colors.push(q.map((c) => signPow((c - 9) / 9, 2) * maxAc));
  }
  const cosX = Float64Array.from({length: width * nx}, (_, k) => Math.cos((Math.PI * Math.floor(k / nx) * (k % nx)) / width));
  const cosY = Float64Array.from({length: height * ny}, (_, k) => Math.cos((Math.PI * Math.floor(k / ny) * (k % ny)) / height));
  const pixels = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const basis = cosX[x * nx + i] * cosY[y * ny + j];
          const c = colors[i + j * nx];
          r += c[0] * basis; g += c[1] * basis; b += c[2] * basis;
        }
      }
      const p = 4 * (x + y * width);
      pixels[p] = toSrgb(r); pixels[p + 1] = toSrgb(g); pixels[p + 2] = toSrgb(b); pixels[p + 3] = 255;
    }
  }
  return pixels;
}

/** Paints `hash` onto a small canvas (CSS stretches it; a blur needs no more pixels). */
export function paint(canvas, hash, size = 32) {
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d');
  ctx.putImageData(new ImageData(decode(hash, size, size), size, size), 0, 0);
}
