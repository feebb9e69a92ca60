"""A report as a list of blocks, written twice: self-contained HTML (figures inline) and Markdown + PNGs."""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt

VERDICT_COLOURS = {"holds": "#1a7f37", "fails": "#cf222e", "inconclusive": "#9a6700"}
CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328;
line-height:1.45}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}td,th{border:1px solid #d0d7de;padding:4px 8px;
vertical-align:top}th{background:#f6f8fa}img{max-width:100%}.banner{padding:0.8em 1em;border-radius:6px;
margin:1em 0;font-weight:600}.smoke{background:#ffebe9;border:1px solid #cf222e}.small{background:#fff8c5;
border:1px solid #9a6700}.paper{background:#dafbe1;border:1px solid #1a7f37}.verdict{font-weight:700}
.note{color:#59636e;font-size:0.85em}code{background:#f6f8fa;padding:1px 4px}
"""


@dataclass
class Document:
    title: str
    blocks: list[tuple[str, object]] = field(default_factory=list)
    figures: int = 0

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", (level, text)))

    def text(self, text: str, css: str | None = None) -> None:
        self.blocks.append(("text", (text, css)))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("bullets", items))

    def table(self, header: list[str], rows: list[list[object]], note: str | None = None) -> None:
        self.blocks.append(("table", (header, [[_cell(c) for c in r] for r in rows], note)))

    def figure(self, fig: plt.Figure, caption: str) -> None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        plt.close(fig)
        self.figures += 1
        self.blocks.append(("figure", (f"figure-{self.figures:02d}.png", buffer.getvalue(), caption)))

    def write(self, folder: Path) -> None:
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        for kind, value in self.blocks:
            if kind == "figure":
                (folder / "figures" / value[0]).write_bytes(value[1])
        (folder / "report.html").write_text(self.html(), encoding="utf-8")
        (folder / "report.md").write_text(self.markdown(), encoding="utf-8")

    def html(self) -> str:
        title = html.escape(self.title)
        out = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"]
        out.append(f"<style>{CSS}</style></head><body><h1>{title}</h1>")
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"<h{value[0]}>{html.escape(value[1])}</h{value[0]}>")
            elif kind == "text":
                css = f" class='{value[1]}'" if value[1] else ""
                out.append(f"<p{css}>{_inline_html(value[0])}</p>")
            elif kind == "bullets":
                out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in value) + "</ul>")
            elif kind == "table":
                header, rows, note = value
                out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{_verdict_html(c)}</td>" for c in r) + "</tr>" for r in rows]
                out.append("</table>" + (f"<p class='note'>{_inline_html(note)}</p>" if note else ""))
            elif kind == "figure":
                data = base64.b64encode(value[1]).decode()
                out.append(f"<figure><img alt='{html.escape(value[2])}' src='data:image/png;base64,{data}'>")
                out.append(f"<figcaption class='note'>{_inline_html(value[2])}</figcaption></figure>")
        return "\n".join(out + ["</body></html>"])

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                out += ["#" * value[0] + " " + value[1], ""]
            elif kind == "text":
                out += [f"> **{value[0]}**" if value[1] else value[0], ""]
            elif kind == "bullets":
                out += [f"- {i}" for i in value] + [""]
            elif kind == "table":
                header, rows, note = value
                out.append("| " + " | ".join(header) + " |")
                out.append("|" + "---|" * len(header))
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
                out += ([""] + [f"*{note}*"] if note else []) + [""]
            elif kind == "figure":
                out += [f"![{value[2]}](figures/{value[0]})", "", f"*{value[2]}*", ""]
        return "\n".join(out)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _inline_html(text: str) -> str:
    """Escape, then render `code` spans and [text](relative/link) links."""
    parts = html.escape(text).split("`")
    return "".join(
        f"<code>{p}</code>" if i % 2 else _LINK.sub(r"<a href='\2'>\1</a>", p) for i, p in enumerate(parts)
    )


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s'\"]+)\)")


def _verdict_html(cell: str) -> str:
    if cell in VERDICT_COLOURS:
        return f"<span class='verdict' style='color:{VERDICT_COLOURS[cell]}'>{cell}</span>"
    return _inline_html(cell)
