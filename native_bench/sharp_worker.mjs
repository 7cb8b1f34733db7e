// The sharp yardstick for `imagepipe bench codec --interleave --backend ...,sharp`.
//
// The same output contract as imagepipe's transcode, written the way sharp is meant to be used:
// one pipeline per variant from the input buffer (each gets libvips' shrink-on-load), auto-rotated,
// sRGB, metadata dropped (sharp's default), JPEG 4:2:0 with optimised Huffman tables, progressive
// from 400 px up. A byte budget is met the way a careful caller would: encode at the variant's
// quality, and while over budget re-encode at the quality the size curve predicts.
//
// Protocol: one JSON request per stdin line {path, out_dir}; one JSON answer per stdout line
// {cpu_us, outputs: [{variant, width, height, quality, size, file}]} or {error}. CPU time is the
// whole process's (sharp's work runs on libuv threads), measured around one file's transcode.
// Environment: SHARP_MODULES (the node_modules holding sharp), SHARP_VARIANTS (JSON, largest first).
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';
import readline from 'readline';

const require = createRequire(path.join(process.env.SHARP_MODULES || '.', 'noop.js'));
const sharp = require('sharp');
sharp.concurrency(1); // one libvips thread, like an imagepipe pool worker
sharp.cache(false); // every upload is different; imagepipe runs with the cache off too

const VARIANTS = JSON.parse(process.env.SHARP_VARIANTS);
const PROGRESSIVE_MIN_SIDE = 400;
const EXPONENT = 0.6; // size ~ m(q) ** -0.6 for photos, the same prior imagepipe starts from
const FILL = 0.97;

const multiplier = (q) => (q >= 50 ? (200 - 2 * q) / 100 : 50 / q);

function predictQuality(q, size, target) {
  const m = Math.max(multiplier(q), 0.01) * Math.pow(size / target, 1 / EXPONENT);
  return Math.floor(m <= 1 ? 100 - 50 * m : 50 / m);
}

function fit(width, height, side) {
  const scale = Math.min(1, side / Math.max(width, height));
  return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
}

async function variant(input, upright, spec) {
  const [w, h] = fit(upright[0], upright[1], spec.side);
  const progressive = Math.max(w, h) >= PROGRESSIVE_MIN_SIDE;
  let quality = spec.quality;
  for (;;) {
    const { data, info } = await sharp(input, { failOn: 'error' })
      .rotate()
      .resize(spec.side, spec.side, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .jpeg({ quality, progressive, chromaSubsampling: '4:2:0', optimiseCoding: true })
      .toBuffer({ resolveWithObject: true });
    if (data.length <= spec.max_bytes || quality <= spec.floor) {
      return { variant: spec.name, width: info.width, height: info.height, quality, size: data.length, data };
    }
    quality = Math.max(spec.floor, Math.min(quality - 1, predictQuality(quality, data.length, spec.max_bytes * FILL)));
  }
}

async function transcode(input) {
  const meta = await sharp(input, { failOn: 'error' }).metadata();
  const upright = (meta.orientation || 1) >= 5 ? [meta.height, meta.width] : [meta.width, meta.height];
  const outputs = [];
  for (const spec of VARIANTS) outputs.push(await variant(input, upright, spec));
  return outputs;
}

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  const request = JSON.parse(line);
  const input = fs.readFileSync(request.path);
  try {
    const start = process.cpuUsage();
    const outputs = await transcode(input);
    const used = process.cpuUsage(start);
    for (const o of outputs) {
      o.file = request.out_dir ? path.join(request.out_dir, `${o.variant}.jpg`) : null;
      if (o.file) fs.writeFileSync(o.file, o.data);
      delete o.data;
    }
    process.stdout.write(JSON.stringify({ cpu_us: used.user + used.system, outputs }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String(e && e.message ? e.message : e) }) + '\n');
  }
}
