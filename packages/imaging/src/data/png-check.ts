// The structure of a PNG file checked before anything is decoded: signature, chunk bounds and
// CRCs, the IHDR header against a pixel limit, and the inflated pixel data against the size
// the header declares. A 103-byte file declaring 25,000² pixels is refused here, before the
// decoder allocates gigabytes; truncated and corrupt files are named, not decoded as zero rows.
import { unzlibSync } from 'fflate';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Samples per pixel of each PNG colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

let crcTable: Uint32Array | undefined;
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (crcTable == null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** What the IHDR chunk declares. */
export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
const printable = (bytes: Uint8Array) => Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
const megapixels = (n: number) => `${(n / 1e6).toLocaleString('en-US', { maximumFractionDigits: 1 })} Mpx`;

/** Bytes of filtered scanlines the header implies (one filter byte per row, Adam7 passes for interlaced images). */
export function expectedDataBytes(h: PngHeader): number {
  const bits = CHANNELS[h.colorType] * h.depth;
  const rowBytes = (w: number) => (w === 0 ? 0 : 1 + Math.ceil((w * bits) / 8));
  if (!h.interlaced) return h.height * rowBytes(h.width);
  // Adam7: [x0, y0, dx, dy] of the seven passes
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil((h.width - x0) / dx);
    const rows = Math.ceil((h.height - y0) / dy);
    if (w > 0 && rows > 0) total += rows * rowBytes(w);
  }
  return total;
}

/**
 * Checks a PNG file's structure and pixel count before decoding; throws a message that names
 * `where`, the file (`name`) and what is wrong.
 *
 * @param where - function name for messages.
 * @param bytes - the file's bytes.
 * @param name - the file (path or URL) for messages.
 * @param maxPixels - the largest width × height accepted.
 * @returns the header.
 */
export function checkPng(where: string, bytes: Uint8Array, name: string, maxPixels: number): PngHeader {
  const file = `'${name}'`;
  if (bytes.length === 0) throw new Error(`${where}: ${file} is empty (0 bytes); it is not a PNG image.`);
  const head = bytes.subarray(0, 8);
  if (bytes.length < 8 || !SIGNATURE.every((b, i) => head[i] === b)) {
    const sig = SIGNATURE.every((b, i) => i >= bytes.length || head[i] === b);
    if (sig) throw new Error(`${where}: ${file} is truncated: ${bytes.length} bytes, shorter than the PNG signature (8 bytes).`);
    throw new Error(`${where}: ${file} is not a PNG: it starts with ${hex(head)} ("${printable(head)}"), not the PNG signature ${hex(new Uint8Array(SIGNATURE))}; convert it to PNG first.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: PngHeader | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  for (let at = 8; !ended; ) {
    if (at + 8 > bytes.length) {
      throw new Error(`${where}: ${file} is truncated: it ends at byte ${bytes.length} ${header == null ? 'before the IHDR header' : 'before the IEND chunk'} (the download or copy was cut short).`);
    }
    const length = view.getUint32(at);
    const type = printable(bytes.subarray(at + 4, at + 8));
    if (at + 12 + length > bytes.length) {
      throw new Error(`${where}: ${file} is truncated: chunk '${type}' at byte ${at} declares ${length.toLocaleString('en-US')} bytes but the file ends ${Math.max(0, bytes.length - at - 8).toLocaleString('en-US')} bytes later.`);
    }
    const stored = view.getUint32(at + 8 + length);
    if (crc32(bytes, at + 4, at + 8 + length) !== stored) {
      throw new Error(`${where}: ${file} is corrupt: chunk '${type}' at byte ${at} fails its CRC check.`);
    }
    if (header == null && type !== 'IHDR') throw new Error(`${where}: ${file} is corrupt: the first chunk is '${type}', not the IHDR header.`);
    if (type === 'IHDR') {
      if (length !== 13) throw new Error(`${where}: ${file} is corrupt: its IHDR header has ${length} bytes, not 13.`);
      const width = view.getUint32(at + 8);
      const height = view.getUint32(at + 12);
      const depth = bytes[at + 16];
      const colorType = bytes[at + 17];
      if (width === 0 || height === 0) throw new Error(`${where}: ${file} declares a ${width}×${height} image; a PNG needs at least one pixel.`);
      if (DEPTHS[colorType] == null || !DEPTHS[colorType].includes(depth)) throw new Error(`${where}: ${file} is corrupt: colour type ${colorType} with bit depth ${depth} is not a PNG format.`);
      const pixels = width * height;
      if (pixels > maxPixels) {
        const need = pixels * (4 + Math.ceil((CHANNELS[colorType] * depth) / 8));
        throw new Error(
          `${where}: ${file} declares ${width.toLocaleString('en-US')}×${height.toLocaleString('en-US')} = ${megapixels(pixels)}, above the limit of ${megapixels(maxPixels)} (option 'maxPixels'); ` +
            `decoding it would need about ${(need / 2 ** 30).toFixed(1)} GiB. Pass a larger maxPixels if the image is real, or crop it first.`,
        );
      }
      header = { width, height, depth, colorType, interlaced: bytes[at + 20] === 1 };
    } else if (type === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    else if (type === 'IEND') ended = true;
    at += 12 + length;
  }
  if (idat.length === 0) throw new Error(`${where}: ${file} is corrupt: it has no image data (no IDAT chunk).`);
  const joined = new Uint8Array(idat.reduce((s, c) => s + c.length, 0));
  let offset = 0;
  for (const c of idat) {
    joined.set(c, offset);
    offset += c.length;
  }
  const expected = expectedDataBytes(header!);
  let inflated: Uint8Array;
  try {
    // One byte of room past the declared size: a longer stream shows as expected + 1 without inflating a bomb.
    inflated = unzlibSync(joined, { out: new Uint8Array(expected + 1) });
  } catch (e) {
    throw new Error(`${where}: ${file} is corrupt: its compressed pixel data cannot be inflated (${(e as Error).message}).`);
  }
  if (inflated.length !== expected) {
    const what = inflated.length < expected ? `short: ${inflated.length.toLocaleString('en-US')} of the ${expected.toLocaleString('en-US')} bytes` : `longer than the ${expected.toLocaleString('en-US')} bytes`;
    throw new Error(`${where}: ${file} is corrupt: its pixel data is ${what} that ${header!.width}×${header!.height} pixels need (truncated or damaged when written).`);
  }
  return header!;
}
