"""How a file is shown on its page: text, image, CSV as a table, a notebook read-only, or a download button."""

from __future__ import annotations

import csv
import io
import json

from files.storage import Entry

TEXT_PREVIEW_BYTES = 256 * 1024
NOTEBOOK_MAX_BYTES = 5 * 1024 * 1024
CSV_ROWS = 100
INLINE_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
TEXT_SUFFIXES = {
    ".txt", ".md", ".py", ".r", ".jl", ".sh", ".json", ".jsonl", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".log",
    ".csv", ".tsv", ".sql", ".tf", ".html", ".css", ".js", ".ts", ".c", ".h", ".cpp", ".rs", ".go", ".java", ".slurm",
    ".sbatch", ".dockerfile", ".gitignore", ".env", ".out", ".err",
}  # fmt: skip


def viewer_for(entry: Entry) -> str:
    name = entry.name.lower()
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if entry.content_type in INLINE_IMAGES:
        return "image"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".ipynb":
        return "notebook" if (entry.size or 0) <= NOTEBOOK_MAX_BYTES else "download"
    if suffix in TEXT_SUFFIXES or name in ("dockerfile", "makefile", "readme", "license") or not suffix:
        return "text"
    return "download"


def read_head(handle, limit: int) -> tuple[bytes, bool]:
    data = handle.read(limit + 1)
    return data[:limit], len(data) > limit


def text_preview(handle) -> tuple[str, bool, bool]:
    """(text, truncated, looks_binary)."""
    data, truncated = read_head(handle, TEXT_PREVIEW_BYTES)
    if b"\x00" in data[:8192]:
        return "", truncated, True
    return data.decode("utf-8", errors="replace"), truncated, False


def csv_preview(handle, name: str) -> tuple[list[str], list[list[str]], bool]:
    data, truncated = read_head(handle, TEXT_PREVIEW_BYTES)
    text = data.decode("utf-8", errors="replace")
    delimiter = "\t" if name.lower().endswith(".tsv") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if truncated and rows:
        rows = rows[:-1]  # the last line may be cut
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    return header, body[:CSV_ROWS], truncated or len(body) > CSV_ROWS


def notebook_cells(handle) -> list[dict]:
    """Cells of a .ipynb as {kind, source, outputs:[{kind, text|png}]}; nothing in it is run or trusted."""
    try:
        notebook = json.loads(handle.read(NOTEBOOK_MAX_BYTES + 1))
    except (ValueError, UnicodeDecodeError):
        return [{"kind": "error", "source": "This notebook file cannot be read (it is not valid JSON).", "outputs": []}]
    cells = []
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        outputs = []
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {}) if isinstance(output, dict) else {}
            if "image/png" in data and isinstance(data["image/png"], str):
                outputs.append({"kind": "png", "png": data["image/png"].replace("\n", "")})
            elif "text/plain" in data or "text" in output:
                text = data.get("text/plain", output.get("text", ""))
                outputs.append({"kind": "text", "text": "".join(text) if isinstance(text, list) else str(text)})
            elif output.get("output_type") == "error":
                outputs.append({"kind": "text", "text": f"{output.get('ename', '')}: {output.get('evalue', '')}"})
        cells.append({"kind": cell.get("cell_type", "code"), "source": source, "outputs": outputs})
    return cells
