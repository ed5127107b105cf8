// Small DOM helpers the board's modules share. Text always goes in as text (textContent),
// never as HTML, so nothing a job or the service says can become markup.

/** An element with an optional class and text. */
export function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** A refused change: its title and one list item per reason, announced to screen readers. */
export function refusalBox(title, reasons, cls = "refusal") {
  const box = el("div", cls);
  box.setAttribute("role", "alert");
  box.append(el("strong", "", title));
  const list = el("ul");
  for (const reason of reasons) list.append(el("li", "", reason));
  box.append(list);
  return box;
}
