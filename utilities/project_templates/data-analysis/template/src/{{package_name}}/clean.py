"""Cleaning raw rows: trim text, turn numbers into numbers, drop empty rows."""


def to_number(value):
    text = str(value).strip()
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def clean_rows(rows: list[dict]) -> list[dict]:
    cleaned = []
    for row in rows:
        values = {key.strip(): to_number(value) for key, value in row.items()}
        if any(v is not None for v in values.values()):
            cleaned.append(values)
    return cleaned
