// The customer's signature, drawn with a finger on a canvas and kept as a PNG.
//
// Pointer events (touch, pen and mouse alike); the canvas is sized to its box times the
// screen's pixel ratio so strokes stay sharp, and painted white first so the PNG reads the
// same on any background. `toBlob()` gives null while nothing was drawn.

export function signaturePad(canvas) {
  const ctx = canvas.getContext("2d");
  let drawn = false;
  let last = null;

  function size() {
    const ratio = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
    const box = canvas.getBoundingClientRect();
    canvas.width = Math.round(box.width * ratio);
    canvas.height = Math.round(box.height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, box.width, box.height);
    ctx.lineWidth = 2.5;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#111";
    drawn = false;
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    ctx.beginPath();
    ctx.arc(last.x, last.y, 1.2, 0, 2 * Math.PI);
    ctx.fillStyle = "#111";
    ctx.fill();
    drawn = true;
    canvas.dispatchEvent(new Event("change"));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    event.preventDefault();
    const next = point(event);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(next.x, next.y);
    ctx.stroke();
    last = next;
  });
  const end = () => (last = null);
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  size();
  return {
    clear() {
      size();
      canvas.dispatchEvent(new Event("change"));
    },
    isEmpty: () => !drawn,
    toBlob() {
      if (!drawn) return Promise.resolve(null);
      return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
    },
  };
}
