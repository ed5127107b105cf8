// Photos from the phone's camera, made small on the phone before they are queued: at most
// 1600 px on the long side, JPEG, so a photo is a few hundred kilobytes (the service takes up
// to 5 MB) and a day's photos fit the phone's storage and a weak connection.

export const MAX_SIDE = 1600;
export const QUALITY = 0.82;

/** A JPEG Blob of `file` (an image from `<input type=file>`) scaled to MAX_SIDE at most. */
export async function downscale(file, maxSide = MAX_SIDE, quality = QUALITY) {
  const image = await createImageBitmap(file, { imageOrientation: "from-image" });
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; // a transparent PNG becomes white, not black
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(image, 0, 0, width, height);
  image.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
  if (!blob) throw new Error("the photo could not be made smaller");
  return { blob, width, height };
}
